// Holdfast as a real process under the runtime running the test, read through its JSON logs.

import { spawn, type ChildProcess } from 'node:child_process';
import { holdfastArgv } from './runtime.ts';

export interface HoldfastProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The UDP and TCP port of its first listener. */
  readonly port: number;
  /** The HTTP port, when started with --http; null otherwise. */
  readonly httpPort: number | null;
  /** Every JSON log line so far, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  readonly stderr: () => string;
  /** Sends `signal` and waits for exit; kills with SIGKILL after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: string | null; ms: number }>;
}

export interface StartOptions {
  /** Extra environment; the parent's is inherited. */
  env?: Record<string, string>;
  /** How long to wait for the "listening" line. */
  startTimeoutMs?: number;
  /**
   * The command that is `holdfast` (e.g. a compiled binary, or qemu running one); `serve` and
   * ARGS follow it. Default: this runtime's entry (holdfastArgv()).
   */
  argv?: readonly string[];
}

/**
 * Starts `holdfast serve ARGS`, adding `--log-format json` and, unless ARGS has one,
 * `--listen 127.0.0.1:0`. Resolves once it logs a UDP listener; rejects with its stderr if it
 * exits first.
 */
export function startHoldfast(args: string[], opts: StartOptions = {}): Promise<HoldfastProcess> {
  const full = ['serve', '--log-format', 'json', ...args];
  if (!args.includes('--listen')) full.push('--listen', '127.0.0.1:0');
  const [cmd, ...pre] = opts.argv ?? holdfastArgv();
  const child = spawn(cmd, [...pre, ...full], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  let err = '';
  let partial = '';
  child.stderr!.on('data', (d) => {
    err += d;
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const l of lines) {
      try {
        logs.push(JSON.parse(l));
      } catch {
        // Not a log line (a runtime warning, say); kept in stderr().
      }
    }
  });
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`holdfast did not start within ${opts.startTimeoutMs ?? 20_000} ms:\n${err}`));
    }, opts.startTimeoutMs ?? 20_000);
    exited.then(({ code, signal }) => {
      clearTimeout(deadline);
      reject(new Error(`holdfast exited (${code ?? signal}) before listening:\n${err}`));
    });
    const poll = setInterval(() => {
      const line = logs.find((l) => l.transport === 'udp' && typeof l.port === 'number');
      if (!line) return;
      // Logged before the DNS listeners, so it is here by now if there is one.
      const http = logs.find((l) => l.transport === 'http' && typeof l.port === 'number');
      clearInterval(poll);
      clearTimeout(deadline);
      resolve({
        child,
        pid: child.pid!,
        port: line.port as number,
        httpPort: http ? (http.port as number) : null,
        logs,
        stderr: () => err,
        async stop(signal = 'SIGTERM', timeoutMs = 5000) {
          const started = Date.now();
          if (child.exitCode !== null || child.signalCode !== null) {
            const r = await exited;
            return { ...r, ms: 0 };
          }
          // process.kill, not child.kill: Deno's child_process reports a child it signalled
          // itself as killed by that signal even when the child exits cleanly.
          process.kill(child.pid!, signal);
          const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
          const r = await exited;
          clearTimeout(kill);
          return { ...r, ms: Date.now() - started };
        },
      });
    }, 20);
    exited.then(() => clearInterval(poll));
  });
}

/** Runs a one-shot holdfast command (query, version, a failing serve) to completion. */
export function runHoldfast(
  args: string[],
  timeoutMs = 20_000,
  env: Record<string, string> = {},
  /** The command that is `holdfast` (a compiled binary, say); default: this runtime's entry. */
  argv: readonly string[] = holdfastArgv(),
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd, ...pre] = argv;
  return new Promise((resolve) => {
    const child = spawn(cmd, [...pre, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    // 'close', not 'exit': output still in the pipes is read first.
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
