// HTTP proxies for tests, on loopback: a real tinyproxy (Debian's package) run as our own
// foreground process with a generated configuration, and a fake in TS that answers every
// CONNECT with a fixed reply, for the refusals tinyproxy will not give on demand. And a TCP
// listener that only counts connections, to prove that nothing went around a proxy.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepting, freePort } from './ports.ts';

export interface Tinyproxy {
  readonly port: number;
  /** Everything it logged so far (LogLevel Info: each CONNECT request, and why one was refused). */
  log(): string;
  stop(): Promise<void>;
}

export interface TinyproxyOptions {
  /** The only ports CONNECT may reach (tinyproxy answers 403 for others). */
  readonly connectPorts: readonly number[];
  /** Requires these credentials (tinyproxy answers 407 without them). */
  readonly basicAuth?: { readonly user: string; readonly password: string };
}

export async function startTinyproxy(o: TinyproxyOptions): Promise<Tinyproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-tinyproxy-'));
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const conf = join(dir, 'tinyproxy.conf');
    writeFileSync(
      conf,
      [
        `Port ${port}`,
        'Listen 127.0.0.1',
        'Timeout 30',
        'MaxClients 50',
        'LogLevel Info',
        'Allow 127.0.0.1',
        ...o.connectPorts.map((p) => `ConnectPort ${p}`),
        ...(o.basicAuth ? [`BasicAuth ${o.basicAuth.user} ${o.basicAuth.password}`] : []),
        '',
      ].join('\n'),
    );
    // -d: in the foreground, logging to stderr, so it is our child and its PID is ours to stop.
    const child: ChildProcess = spawn('tinyproxy', ['-d', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    const spawnFailed = new Promise<Error>((r) => child.once('error', r));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let up = false;
    for (let i = 0; i < 150 && child.exitCode === null && !up; i++) {
      up = await Promise.race([accepting(port), spawnFailed.then(() => false)]);
      if (!up) await new Promise((r) => setTimeout(r, 20));
    }
    if (up) {
      return {
        port,
        log: () => log,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(kill);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    child.kill('SIGKILL');
    await exited;
    if (!/in use/i.test(log)) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`tinyproxy did not start (is it installed?):\n${log}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error('tinyproxy did not start on a free port');
}

export interface FakeProxy {
  readonly port: number;
  /** The request heads received, in order. */
  readonly requests: readonly string[];
  close(): Promise<void>;
}

/** Answers every request head with `reply`, then closes the connection. */
export function startFakeProxy(reply: string): Promise<FakeProxy> {
  const requests: string[] = [];
  const server = net.createServer((socket) => {
    let head = '';
    socket.on('error', () => {});
    socket.on('data', (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n') || head.length > 16_384) return;
      requests.push(head.slice(0, head.indexOf('\r\n\r\n')));
      head = '';
      socket.end(reply);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        requests,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

export interface CountingListener {
  readonly port: number;
  /** TCP connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** A TCP port that accepts, counts and closes connections: an upstream nothing may reach. */
export function startCountingListener(): Promise<CountingListener> {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.on('error', () => {});
    socket.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        get connections() {
          return connections;
        },
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
