// A real authoritative server for tests: NSD on loopback, serving zones the test writes.
// Debian's NSD rate-limits responses (RRL) by default, which looks like packet loss under load,
// so it is turned off here.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Shared with the benches, which are plain JavaScript.
import { nsdConf } from '../../build/bench/servers.mjs';
import { runTool, udpExchange } from './dns-client.ts';
import { probeInNs, type LossyLink } from './netns.ts';
import { query } from './packets.ts';
import { freePort } from './ports.ts';

export interface Zone {
  /** e.g. "example.test" */
  readonly name: string;
  /** Zone-file lines after the generated $ORIGIN, $TTL, SOA and NS. */
  readonly records: string;
  readonly soaMinimum?: number;
  readonly ttl?: number;
}

export interface Nsd {
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  stop(): Promise<void>;
}

export function zoneText(z: Zone): string {
  return [
    `$ORIGIN ${z.name}.`,
    `$TTL ${z.ttl ?? 300}`,
    `@ IN SOA ns1 hostmaster 1 3600 600 86400 ${z.soaMinimum ?? 60}`,
    '@ IN NS ns1',
    'ns1 IN A 127.0.0.1',
    z.records,
    '',
  ].join('\n');
}

export interface NsdOptions {
  port?: number;
  address?: string;
  /**
   * Run NSD inside this network namespace (test/helpers/netns.ts); `port` is then required
   * (a fresh namespace has every port free, and ours cannot be probed for one), and readiness
   * is asked from inside the namespace.
   */
  netns?: { link: LossyLink; ns: string };
  /**
   * A command NSD runs under, e.g. ["ip", "netns", "exec", "NS"] to start it inside a network
   * namespace; the readiness check (dig) then runs under it too. It must exec its command, so
   * the PID stays NSD's.
   */
  exec?: readonly string[];
}

/** Whether NSD answers on `address`:`port` yet, asked from where it runs. */
async function answers(zone: string, port: number, address: string, opts: NsdOptions): Promise<boolean> {
  if (opts.netns) return probeInNs(opts.netns.link, opts.netns.ns, `${address}:${port}`, zone, 200);
  if (opts.exec) {
    const exec = opts.exec;
    const r = await runTool(exec[0], [...exec.slice(1), 'dig', `@${address}`, '-p', String(port), '+tries=1', '+time=1', '+noedns', zone, 'SOA'], 5_000);
    return /status: NOERROR/.test(r.stdout);
  }
  return (await udpExchange(port, query(zone, 'SOA', { edns: false }), 100, address)) !== null;
}

export async function startNsd(zones: readonly Zone[], opts: NsdOptions = {}): Promise<Nsd> {
  if (opts.netns && opts.port === undefined) throw new Error('startNsd: a port is needed to run NSD in a network namespace');
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-nsd-'));
  const address = opts.address ?? '127.0.0.1';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = opts.port ?? (await freePort());
    const conf = nsdConf({ dir, address, port, zones: zones.map((z) => z.name) });
    for (const z of zones) writeFileSync(join(dir, `${z.name}.zone`), zoneText(z));
    writeFileSync(join(dir, 'nsd.conf'), conf);
    const argv = ['nsd', '-d', '-c', join(dir, 'nsd.conf')];
    const [cmd, ...args] = opts.netns ? opts.netns.link.inNs(opts.netns.ns, argv) : opts.exec ? [...opts.exec, ...argv] : argv;
    const child: ChildProcess = spawn(cmd, args, { stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // Ready when it answers a question about the first zone.
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      if (await answers(zones[0].name, port, address, opts)) {
        return {
          port,
          pid: child.pid!,
          dir,
          async stop() {
            if (child.exitCode === null) child.kill('SIGTERM');
            await exited;
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
    }
    child.kill('SIGKILL');
    await exited;
    if (opts.port) break;
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error('nsd did not start (is the nsd package installed?)');
}
