// What the three campaigns (fuzz, torture, soak) share: starting the shipped executable and
// watching it (JSON log lines, stray stderr, RSS from /proc), the independent answer checker
// (dns-packet, not our codec), bounded waits, and the report every campaign ends with. Run by
// Bun (`npm run fuzz` etc.); the tests in test/campaigns import the checker directly.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import os from 'node:os';
import dnsPacket from 'dns-packet';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** PIDs of the processes a campaign started and has not seen exit: killed if it is stopped. */
const children = new Set<number>();

export function track(pid: number | undefined, exited: Promise<unknown>): void {
  if (pid === undefined) return;
  children.add(pid);
  exited.then(() => children.delete(pid));
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const pid of children) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    process.exit(130);
  });
}

/** `--name value` and `--flag` from argv into a map; numbers stay strings until asked for. */
export function readArgs(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) out.set(a.slice(2), argv[++i]);
    else out.set(a.slice(2), 'true');
  }
  return out;
}

export function numberArg(args: Map<string, string>, name: string, fallback: number): number {
  const v = args.get(name);
  if (v === undefined) return fallback;
  const n = Number(v.replaceAll('_', '').replaceAll(',', ''));
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: not a number (${v})`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// The answer checker.

export type Verdict =
  | { readonly ok: true; readonly rcode: string; readonly id: number }
  | { readonly ok: false; readonly problem: string };

/**
 * Whether a reply from Holdfast is a well-formed DNS response, read by dns-packet (a parser we
 * did not write): it decodes whole with nothing left over, has QR=1, carries the query's ID and
 * opcode when the query is known (RFC 1035 §4.1.1: both are copied into the response), and over
 * UDP stays within 512 bytes unless the client advertised more with EDNS (RFC 6891 §6.2.5).
 */
export function checkAnswer(bytes: Uint8Array, udpLimit: number | null = null, query: Uint8Array | null = null): Verdict {
  if (bytes.length < 12) return { ok: false, problem: `${bytes.length} bytes: shorter than a header` };
  let m: { id: number; type: string; opcode: string; rcode: string };
  try {
    m = dnsPacket.decode(Buffer.from(bytes)) as unknown as typeof m;
  } catch (e) {
    return { ok: false, problem: `dns-packet cannot decode it (${(e as Error).message})` };
  }
  const used = (dnsPacket.decode as unknown as { bytes: number }).bytes;
  // dns-packet leaves the length unset after some record codecs (SSHFP's, in 5.6.1): then the
  // length cannot be checked, and reporting NaN leftovers would be a false finding.
  if (Number.isFinite(used) && used !== bytes.length) return { ok: false, problem: `${bytes.length - used} bytes after the message` };
  if (m.type !== 'response') return { ok: false, problem: 'QR=0: a query, not a response' };
  if (query && query.length >= 12) {
    if (m.id !== ((query[0] << 8) | query[1])) return { ok: false, problem: `ID ${m.id}, query's ${(query[0] << 8) | query[1]}` };
    const opcode = (query[2] >> 3) & 0x0f;
    if (((bytes[2] >> 3) & 0x0f) !== opcode) return { ok: false, problem: `opcode ${m.opcode}, query's ${opcode}` };
  }
  if (udpLimit !== null && bytes.length > udpLimit) return { ok: false, problem: `${bytes.length} bytes over UDP, limit ${udpLimit}` };
  return { ok: true, rcode: m.rcode, id: m.id };
}

/** The UDP size a query advertises (RFC 6891 §6.2.5: at least 512), or null if unreadable. */
export function advertisedUdpSize(query: Uint8Array): number | null {
  try {
    const q = dnsPacket.decode(Buffer.from(query)) as unknown as { additionals?: Array<{ type: string; udpPayloadSize?: number }> };
    const opt = q.additionals?.find((r) => r.type === 'OPT');
    return Math.max(512, opt?.udpPayloadSize ?? 512);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// The server under test.

export function executable(): string {
  const exe = `dist/holdfast-linux-${os.arch() === 'arm64' ? 'arm64' : 'x64'}`;
  if (!existsSync(exe)) throw new Error(`${exe} is missing: build it first (node build/build.mjs linux-x64)`);
  return exe;
}

export interface Server {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly httpPort: number | null;
  /** The UDP port of the listener on `address` (of several --listen), once logged; null before. */
  portOf(address: string): number | null;
  readonly logs: Array<Record<string, unknown>>;
  /** stderr lines that are not JSON log lines: a stack trace, a runtime panic. */
  readonly stray: string[];
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  alive(): boolean;
  /** SIGKILL by PID; resolves when it has gone. */
  kill(): Promise<void>;
  /** SIGTERM by PID, SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: string | null }>;
}

/** Starts `holdfast serve ARGS --log-format json --listen 127.0.0.1:0` and waits for its UDP port. */
export function startServer(args: readonly string[], timeoutMs = 20_000): Promise<Server> {
  const full = ['serve', '--log-format', 'json', ...args];
  if (!args.includes('--listen')) full.push('--listen', '127.0.0.1:0');
  const child = spawn(executable(), full, { stdio: ['ignore', 'ignore', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  const stray: string[] = [];
  let partial = '';
  child.stderr!.on('data', (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const l of lines) {
      if (l.trim() === '') continue;
      try {
        logs.push(JSON.parse(l));
        // Keep memory bounded on long runs: the campaigns read recent lines only.
        if (logs.length > 5000) logs.splice(0, 1000);
      } catch {
        if (stray.length < 200) stray.push(l);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  let gone = false;
  exited.then(() => (gone = true));
  track(child.pid, exited);
  const pid = child.pid!;
  const server = (port: number, httpPort: number | null): Server => ({
    child,
    pid,
    port,
    httpPort,
    portOf: (address) => {
      const l = logs.find((x) => x.transport === 'udp' && x.address === address && typeof x.port === 'number');
      return l ? (l.port as number) : null;
    },
    logs,
    stray,
    exited,
    alive: () => !gone,
    async kill() {
      if (!gone) process.kill(pid, 'SIGKILL');
      await exited;
    },
    async stop(graceMs = 5000) {
      if (!gone) process.kill(pid, 'SIGTERM');
      const t = setTimeout(() => !gone && process.kill(pid, 'SIGKILL'), graceMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  });
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const poll = setInterval(() => {
      const udp = logs.find((l) => l.transport === 'udp' && typeof l.port === 'number');
      if (udp) {
        clearInterval(poll);
        const http = logs.find((l) => l.transport === 'http' && typeof l.port === 'number');
        resolve(server(udp.port as number, http ? (http.port as number) : null));
      } else if (gone || Date.now() > deadline) {
        clearInterval(poll);
        if (!gone) process.kill(pid, 'SIGKILL');
        reject(new Error(`holdfast did not start: ${stray.join('\n')} ${JSON.stringify(logs.slice(-5))}`));
      }
    }, 10);
  });
}

/** Resident set size of PID in KiB, from /proc (null once it has gone). */
export function rssKb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Slope of a least-squares line through (x, y) points: growth per unit of x. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const d = n * sxx - sx * sx;
  return d === 0 ? 0 : (n * sxy - sx * sy) / d;
}

/** Reads one gauge (summed over its label sets) from a Prometheus text body. */
export function metric(body: string, name: string): number | null {
  let sum: number | null = null;
  for (const line of body.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum = (sum ?? 0) + v;
  }
  return sum;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// ---------------------------------------------------------------------------------------------
// The report: figures, then one line per check, then `result: pass|fail`. Tests read the last
// line and the checks; people read the rest.

export interface Check {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

export function report(title: string, figures: Record<string, unknown>, checks: readonly Check[]): boolean {
  const pass = checks.every((c) => c.pass);
  const lines = [`${title}`];
  for (const [k, v] of Object.entries(figures)) lines.push(`  ${k.padEnd(28)} ${typeof v === 'number' ? fmt(v) : String(v)}`);
  for (const c of checks) lines.push(`  check ${c.pass ? 'pass' : 'FAIL'}  ${c.name}: ${c.detail}`);
  lines.push(`result: ${pass ? 'pass' : 'fail'}`);
  process.stdout.write(lines.join('\n') + '\n');
  return pass;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(2);
}

export function machine(): string {
  return `${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}`;
}
