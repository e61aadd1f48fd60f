// Real encrypted DNS servers for tests, on loopback with the test's own certificates:
// unbound for DNS over TLS (RFC 7858) and dnsdist for DNS over HTTPS (RFC 8484, served over
// HTTP/1.1 by dnsdist's h2o). Both answer every name under example.test with a fixed address,
// so no other server is needed. Each can be stopped and started again on the same port. Either
// can run inside a network namespace instead, on an address of it (#12's WAN-change test).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepting, freePort } from './ports.ts';
import type { ServerCert } from './tls-certs.ts';

export const DOT_ANSWER = '192.0.2.1';
export const DOH_ANSWER = '192.0.2.2';

export interface EncryptedServer {
  readonly port: number;
  /** Stops the server and starts it again on the same port; resolves once it accepts connections. */
  restart(pauseMs?: number): Promise<void>;
  /** Stops it (kept stopped until restart). */
  halt(): Promise<void>;
  stop(): Promise<void>;
}

export interface ServerOptions {
  readonly cert: ServerCert;
  /** The server closes a connection idle this long. */
  readonly idleTimeoutMs?: number;
  /**
   * Run inside this network namespace (one the test made), listening on `address:port` there.
   * A fresh namespace has every port free, and ours cannot be probed from here, so the port is
   * given and readiness is read with `ss` inside the namespace.
   */
  readonly netns?: { readonly name: string; readonly address: string; readonly port: number };
}

/** Is something inside namespace `ns` listening for TCP on `address:port`? */
function listeningInNs(ns: string, address: string, port: number): boolean {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'ss', '-Hltn', 'src', `${address}:${port}`], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 && r.stdout.trim() !== '';
}

async function launch(
  name: string,
  makeArgs: (dir: string, port: number) => string[],
  netns?: ServerOptions['netns'],
): Promise<EncryptedServer> {
  const fixedPort = netns?.port;
  const isReady = netns ? (p: number) => Promise.resolve(listeningInNs(netns.name, netns.address, p)) : accepting;
  const dir = mkdtempSync(join(tmpdir(), `holdfast-${name}-`));
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let port = 0;

  const start = async (wanted?: number): Promise<boolean> => {
    port = wanted ?? (await freePort());
    // `ip netns exec` execs the server, so the child's PID is the server's.
    const [cmd, ...args] = netns ? ['ip', 'netns', 'exec', netns.name, ...makeArgs(dir, port)] : makeArgs(dir, port);
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d) => (err += d));
    child = c;
    exited = new Promise<void>((r) => c.once('exit', () => r()));
    for (let i = 0; i < 150 && c.exitCode === null; i++) {
      if (await isReady(port)) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    c.kill('SIGKILL');
    await exited;
    if (wanted === undefined && !/in use/i.test(err)) throw new Error(`${name} did not start (is it installed?):\n${err}`);
    return false;
  };

  const halt = async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };

  let started = false;
  for (let attempt = 0; attempt < 5 && !started; attempt++) started = await start(fixedPort);
  if (!started) throw new Error(`${name} did not start on a free port`);
  return {
    get port() {
      return port;
    },
    async restart(pauseMs = 0) {
      await halt();
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
      for (let attempt = 0; attempt < 20; attempt++) {
        if (await start(port)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${name} did not start again on port ${port}`);
    },
    halt,
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** unbound serving DNS over TLS only, answering DOT_ANSWER for every name under example.test. */
export function startUnboundDot(o: ServerOptions): Promise<EncryptedServer> {
  return launch('unbound', (dir, port) => {
    const conf = join(dir, 'unbound.conf');
    writeFileSync(
      conf,
      [
        'server:',
        `  interface: ${o.netns?.address ?? '127.0.0.1'}@${port}`,
        // Only an interface with this port number gets TLS (unbound.conf(5), tls-port).
        `  tls-port: ${port}`,
        `  tls-service-key: "${o.cert.key}"`,
        `  tls-service-pem: "${o.cert.cert}"`,
        '  username: ""',
        '  chroot: ""',
        `  directory: "${dir}"`,
        `  pidfile: "${dir}/unbound.pid"`,
        '  use-syslog: no',
        '  logfile: ""',
        '  verbosity: 0',
        '  do-ip6: no',
        '  num-threads: 1',
        '  incoming-num-tcp: 64',
        // In a namespace the clients are on the other end of a link, at addresses that change.
        `  access-control: ${o.netns ? '0.0.0.0/0' : '127.0.0.0/8'} allow`,
        `  tcp-idle-timeout: ${o.idleTimeoutMs ?? 30_000}`,
        '  local-zone: "example.test." redirect',
        `  local-data: "example.test. 300 IN A ${DOT_ANSWER}"`,
        'remote-control:',
        '  control-enable: no',
        '',
      ].join('\n'),
    );
    return ['unbound', '-d', '-c', conf];
  }, o.netns);
}

/** dnsdist serving DNS over HTTPS on /dns-query, answering DOH_ANSWER for every A question. */
export function startDnsdistDoh(o: ServerOptions): Promise<EncryptedServer> {
  return launch('dnsdist', (dir, port) => {
    const conf = join(dir, 'dnsdist.conf');
    writeFileSync(
      conf,
      [
        // No security polling: tests never leave loopback.
        'setSecurityPollSuffix("")',
        // dnsdist always has a plain listener (127.0.0.1:53 unless told): the same port on
        // another loopback address, which nothing else uses.
        `setLocal("127.0.0.2:${port}")`,
        `addDOHLocal("${o.netns?.address ?? '127.0.0.1'}:${port}", "${o.cert.cert}", "${o.cert.key}", "/dns-query", { idleTimeout=${Math.max(1, Math.round((o.idleTimeoutMs ?? 30_000) / 1000))} })`,
        `addAction(AllRule(), SpoofAction({"${DOH_ANSWER}"}))`,
        '',
      ].join('\n'),
    );
    return ['dnsdist', '--supervised', '--disable-syslog', '-C', conf];
  }, o.netns);
}
