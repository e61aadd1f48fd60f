// `holdfast relay` as a real process under the runtime running the test.

import { spawn, type ChildProcess } from 'node:child_process';
import { holdfastArgv } from './runtime.ts';

export interface RelayProcess {
  readonly child: ChildProcess;
  /** Its HTTP port. */
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts `holdfast relay ARGS`; resolves with its HTTP port once it logs it. */
export function startRelay(args: string[]): Promise<RelayProcess> {
  const [cmd, ...pre] = holdfastArgv();
  const child = spawn(cmd, [...pre, 'relay', '--log-format', 'json', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(kill);
  };
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`relay did not start:\n${err}`));
    }, 20_000);
    void exited.then(() => {
      clearTimeout(deadline);
      reject(new Error(`relay exited before listening:\n${err}`));
    });
    child.stderr!.on('data', (d) => {
      err += d;
      const m = /"transport":"http"[^\n]*"port":(\d+)/.exec(err);
      if (m) {
        clearTimeout(deadline);
        resolve({ child, port: Number(m[1]), stop });
      }
    });
  });
}
