// `npm run soak -- --minutes M`: the shipped executable under twice its measured hit capacity
// (dnsperf on cached names: a 5 s run finds the capacity, then dnsperf offers twice that), a
// stream of unique misses from many loopback addresses (127.1.0.0/16, so the rate limiter
// tracks many clients), and misbehaving TCP clients (partial frames, pipelined queries never
// read, readers that take a chunk every few seconds), for M minutes. Checks: RSS flat after
// warm-up (least-squares slope), bounded tables within their bounds (cache entries and bytes
// from /metrics, TCP connections from /proc/net/tcp), every answer to our own clients
// well-formed (dns-packet), and a well-behaved client's p99 at the end no worse than at the start.
//   bun build/campaigns/soak.ts [--minutes 30] [--cache-size 20000] [--miss-qps 300] [--seed 1]
//     [--warmup-seconds S] [--max-rss-growth-mb 16] [--p99-slack-ms 50]
//     [--lost-slack-points 1]

import { spawn, spawnSync } from 'node:child_process';
import { Buffer } from 'node:buffer';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { createPrng } from '../../test/helpers/prng.ts';
import { checkAnswer, machine, metric, numberArg, percentile, readArgs, report, rssKb, slope, sleep, startServer, track } from './common.ts';
import { startUpstream } from './mutating-upstream.ts';

const args = readArgs(process.argv.slice(2));
const MINUTES = numberArg(args, 'minutes', 30);
const CACHE_SIZE = numberArg(args, 'cache-size', 20_000);
const MISS_QPS = numberArg(args, 'miss-qps', 300);
const SEED = numberArg(args, 'seed', 0x50a4);
// How much the RSS slope may add over the settled window; a leak under this load shows far more.
const MAX_GROWTH_MB = numberArg(args, 'max-rss-growth-mb', 16);
// What the last minute's p99 may add to twice the first's: the tests' seconds-long soaks on a
// busy CI machine judge a few hundred samples, so they loosen it.
const P99_SLACK_MS = numberArg(args, 'p99-slack-ms', 50);
const LOST_SLACK_POINTS = numberArg(args, 'lost-slack-points', 1);
const WARMUP_ARG_S = args.has('warmup-seconds') ? numberArg(args, 'warmup-seconds', 60) : null;
const TCP_SLOTS = 256;
const BAD_TCP_CLIENTS = 300; // more than the server's slots: it has to evict (RFC 7766 §6.2.3)
const HIT_NAMES = 1000;
const RUN_MS = MINUTES * 60_000;
// Warm-up: the cache fills with misses and the runtime's heap settles.
const WARMUP_MS = WARMUP_ARG_S !== null ? WARMUP_ARG_S * 1000 : Math.max(60_000, RUN_MS / 4);

const rnd = createPrng(SEED);
let stopping = false;
const malformed: string[] = [];
let answers = 0;

function query(id: number, name: string): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
}

function checked(reply: Uint8Array, q: Uint8Array | null): boolean {
  const v = checkAnswer(reply, 512, q);
  if (v.ok) answers++;
  else if (malformed.length < 5) malformed.push(v.problem);
  return v.ok;
}

function dnsperf(port: number, file: string, seconds: number, qps: number | null): Promise<{ qps: number; lost: number; sent: number; text: string }> {
  const argv = ['-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(seconds), '-c', '4', '-q', '500', '-t', '2'];
  if (qps !== null) argv.push('-Q', String(Math.round(qps)));
  return new Promise((resolve, reject) => {
    const child = spawn('dnsperf', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child.pid, new Promise((r) => child.once('close', r)));
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    // Bounded: dnsperf stops itself after -l seconds; this is the backstop.
    const t = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(t);
      const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
      resolve({ qps: num(/Queries per second:\s+([\d.]+)/), lost: num(/Queries lost:\s+(\d+)/), sent: num(/Queries sent:\s+(\d+)/), text });
    });
  });
}

/** Unique names at MISS_QPS from sockets on many 127.1.x.y addresses. */
async function misses(port: number): Promise<number> {
  const socks: dgram.Socket[] = [];
  for (let i = 0; i < 32; i++) {
    const s = dgram.createSocket('udp4');
    s.on('message', (m) => checked(new Uint8Array(m), null));
    s.on('error', () => {});
    await new Promise<void>((r) => s.bind(0, `127.1.${rnd.int(256)}.${1 + rnd.int(254)}`, () => r()));
    socks.push(s);
  }
  let n = 0;
  while (!stopping) {
    const tick = sleep(100);
    for (let i = 0; i < MISS_QPS / 10; i++) rnd.pick(socks).send(query(n & 0xffff, `m${n++}.${SEED}.soak.test`), port, '127.0.0.1');
    await tick;
  }
  await sleep(500);
  for (const s of socks) s.close();
  return n;
}

/** Connections that misbehave, kept at BAD_TCP_CLIENTS, each closed by us after a minute at most. */
async function badTcp(port: number): Promise<Record<string, number>> {
  const open = new Set<net.Socket>();
  const made: Record<string, number> = { partial: 0, neverReads: 0, slowReader: 0 };
  while (!stopping) {
    for (let i = 0; i < 20 && open.size < BAD_TCP_CLIENTS; i++) {
      const kind = rnd.pick(['partial', 'neverReads', 'slowReader'] as const);
      made[kind]++;
      const s = net.connect(port, '127.0.0.1');
      open.add(s);
      s.on('error', () => {});
      s.once('close', () => open.delete(s));
      setTimeout(() => s.destroy(), 10_000 + rnd.int(50_000));
      s.once('connect', () => {
        if (kind === 'partial') {
          s.write(Buffer.from([0x00]));
          return;
        }
        s.pause();
        const frames: Buffer[] = [];
        for (let k = 0; k < 64; k++) {
          const q = query(k, `good.hit${rnd.int(HIT_NAMES)}.soak.test`);
          const f = Buffer.alloc(2 + q.length);
          f.writeUInt16BE(q.length, 0);
          q.copy(f, 2);
          frames.push(f);
        }
        s.write(Buffer.concat(frames));
        if (kind === 'slowReader') {
          const drip = setInterval(() => (s.destroyed ? clearInterval(drip) : s.read(64)), 3000);
          s.once('close', () => clearInterval(drip));
        }
      });
    }
    await sleep(500);
  }
  for (const s of open) s.destroy();
  return made;
}

interface Sample {
  atMs: number;
  ms: number | null;
}

/** A well-behaved client: a cached name over UDP every 100 ms, over TCP every 2 s. */
async function wellBehaved(port: number, udp: Sample[], tcp: Sample[], started: number): Promise<void> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const waiting = new Map<number, (m: Buffer) => void>();
  sock.on('message', (m) => waiting.get(m.readUInt16BE(0))?.(m));
  let id = 0;
  let n = 0;
  while (!stopping) {
    const tick = sleep(100);
    const myId = (id = (id + 1) & 0xffff);
    const q = query(myId, `good.hit${myId % HIT_NAMES}.soak.test`);
    const t0 = performance.now();
    const atMs = Date.now() - started;
    const reply = new Promise<number | null>((r) => {
      const t = setTimeout(() => r(null), 2000);
      waiting.set(myId, (m) => {
        clearTimeout(t);
        r(checked(new Uint8Array(m), new Uint8Array(q)) ? performance.now() - t0 : null);
      });
    });
    sock.send(q, port, '127.0.0.1');
    reply.then((ms) => {
      waiting.delete(myId);
      udp.push({ atMs, ms });
    });
    if (n++ % 20 === 0) tcpOnce(port, myId).then((ms) => tcp.push({ atMs, ms }));
    await tick;
  }
  await sleep(2100);
  sock.close();
}

function tcpOnce(port: number, id: number): Promise<number | null> {
  return new Promise((resolve) => {
    const q = query(id, `good.hit${id % HIT_NAMES}.soak.test`);
    const t0 = performance.now();
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const done = (v: number | null) => {
      s.destroy();
      resolve(v);
    };
    s.on('error', () => done(null));
    s.setTimeout(2000, () => done(null));
    s.on('connect', () => {
      const f = Buffer.alloc(2 + q.length);
      f.writeUInt16BE(q.length, 0);
      q.copy(f, 2);
      s.write(f);
    });
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const ok = checkAnswer(new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0))), null, new Uint8Array(q));
        if (ok.ok) answers++;
        else if (malformed.length < 5) malformed.push(`tcp: ${ok.problem}`);
        done(ok.ok ? performance.now() - t0 : null);
      }
    });
    s.on('close', () => resolve(null));
  });
}

/** Server-side TCP sockets on `port` in ESTABLISHED state (the server's own count, from the kernel). */
function establishedOn(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').filter((l) => {
    const f = l.trim().split(/\s+/);
    return f[1]?.endsWith(`:${hexPort}`) && f[3] === '01';
  }).length;
}

/** p99 of the answered queries, and the lost share (unanswered in 2 s), reported apart. */
function p99Of(samples: Sample[], from: number, to: number): { p99: number; lost: number; lostShare: number; n: number } {
  const inRange = samples.filter((s) => s.atMs >= from && s.atMs < to);
  const times = inRange.filter((s) => s.ms !== null).map((s) => s.ms!).sort((a, b) => a - b);
  const lost = inRange.length - times.length;
  return { p99: percentile(times, 99), lost, lostShare: lost / Math.max(1, inRange.length), n: inRange.length };
}

async function main(): Promise<boolean> {
  if (spawnSync('dnsperf', ['-h']).error) throw new Error('dnsperf is not installed (apt-get install dnsperf)');
  const dir = mkdtempSync(join(os.tmpdir(), 'holdfast-soak-'));
  const hits = join(dir, 'hits.txt');
  writeFileSync(hits, Array.from({ length: HIT_NAMES }, (_, i) => `good.hit${i}.soak.test A`).join('\n') + '\n');
  const upstream = await startUpstream({ seed: SEED, mutateShare: 0, ttlSeconds: 86_400 });
  const server = await startServer([
    '--upstream', `udp://127.0.0.1:${upstream.port}`, '--http', '127.0.0.1:0', '--cache-size', String(CACHE_SIZE),
    '--rate-limit-exempt', '127.0.0.1/32', '--tcp-max-connections', String(TCP_SLOTS),
  ]);
  // Fill the hit names, then measure what the server does with hits alone.
  await dnsperf(server.port, hits, 2, 2000);
  const capacity = await dnsperf(server.port, hits, 5, null);
  if (!(capacity.qps > 0)) throw new Error(`dnsperf measured nothing:\n${capacity.text}`);
  const offered = 2 * capacity.qps;
  process.stderr.write(`soak: hit capacity ${Math.round(capacity.qps)} qps; offering ${Math.round(offered)} for ${MINUTES} min\n`);

  const started = Date.now();
  const rss: Array<[number, number]> = [];
  const tables: Array<{ atMs: number; entries: number; bytes: number; maxEntries: number; maxBytes: number; tcp: number; evictions: number }> = [];
  const sampler = setInterval(async () => {
    const atMs = Date.now() - started;
    const kb = rssKb(server.pid);
    if (kb !== null) rss.push([atMs / 60_000, kb / 1024]);
    try {
      const body = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
      tables.push({
        atMs,
        entries: metric(body, 'holdfast_cache_entries') ?? NaN,
        bytes: metric(body, 'holdfast_cache_bytes') ?? NaN,
        maxEntries: metric(body, 'holdfast_cache_max_entries') ?? NaN,
        maxBytes: metric(body, 'holdfast_cache_max_bytes') ?? NaN,
        tcp: establishedOn(server.port),
        evictions: metric(body, 'holdfast_rate_limit_evictions_total') ?? 0,
      });
    } catch {
      // A missed scrape under load is a figure, not a failure: the count shows it.
    }
  }, 5000);
  const udp: Sample[] = [];
  const tcp: Sample[] = [];
  const load = dnsperf(server.port, hits, Math.round(RUN_MS / 1000), offered);
  const others = Promise.all([misses(server.port), badTcp(server.port), wellBehaved(server.port, udp, tcp, started)]);
  const progress = setInterval(() => {
    const t = tables.at(-1);
    process.stderr.write(`soak: ${((Date.now() - started) / 60_000).toFixed(1)} min, RSS ${rss.at(-1)?.[1].toFixed(1)} MiB, cache ${t?.entries} entries, tcp ${t?.tcp}, malformed ${malformed.length}\n`);
  }, 60_000);
  const perf = await load;
  stopping = true;
  const [missCount, badMade] = await others;
  clearInterval(sampler);
  clearInterval(progress);
  const alive = server.alive();
  const shutdown = alive ? await server.stop() : null;
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });

  const endMs = Date.now() - started;
  const after = rss.filter(([m]) => m * 60_000 >= WARMUP_MS);
  const rssSlope = slope(after);
  const settled = tables.filter((t) => t.atMs >= WARMUP_MS);
  const maxOf = (k: 'entries' | 'bytes' | 'tcp', from = tables) => Math.max(0, ...from.map((t) => t[k]).filter(Number.isFinite));
  const cap = tables.at(-1);
  // A minute each, or a third of the settled run when it is shorter (the tests' short soaks).
  const windowMs = Math.min(60_000, (endMs - WARMUP_MS) / 3);
  const firstWindow = [WARMUP_MS, WARMUP_MS + windowMs] as const;
  const lastWindow = [endMs - windowMs, endMs] as const;
  const early = p99Of(udp, ...firstWindow);
  const late = p99Of(udp, ...lastWindow);
  const tcpAll = p99Of(tcp, WARMUP_MS, endMs);
  const udpAll = p99Of(udp, WARMUP_MS, endMs);
  const postWarmupMinutes = (endMs - WARMUP_MS) / 60_000;
  return report(
    `soak: ${(endMs / 60_000).toFixed(1)} min (seed ${SEED}; ${machine()})`,
    {
      'hit capacity (dnsperf 5 s), qps': capacity.qps,
      'offered hits (2x), qps': offered,
      'dnsperf: sent / lost / answered qps': `${perf.sent} / ${perf.lost} / ${perf.qps.toFixed(0)}`,
      'unique misses sent': missCount,
      'bad TCP clients opened': JSON.stringify(badMade),
      'answers checked (ours)': answers,
      'RSS at warm-up end / max / final, MiB': `${after[0]?.[1].toFixed(1)} / ${Math.max(...rss.map(([, v]) => v)).toFixed(1)} / ${rss.at(-1)?.[1].toFixed(1)}`,
      'RSS slope after warm-up, MiB/min': rssSlope,
      'cache entries max / bound': `${maxOf('entries')} / ${cap?.maxEntries}`,
      'cache bytes max / bound': `${maxOf('bytes')} / ${cap?.maxBytes}`,
      'TCP connections max / slots': `${maxOf('tcp')} / ${TCP_SLOTS}`,
      'rate-limit table evictions': cap?.evictions ?? 0,
      'well-behaved UDP p99 first / last min, ms': `${early.p99.toFixed(1)} / ${late.p99.toFixed(1)} (answered; lost ${early.lost} / ${late.lost})`,
      'well-behaved UDP after warm-up: n / lost / p99': `${udpAll.n} / ${udpAll.lost} / ${udpAll.p99.toFixed(1)} ms`,
      'well-behaved TCP after warm-up: n / lost / p99': `${tcpAll.n} / ${tcpAll.lost} / ${tcpAll.p99.toFixed(1)} ms`,
      'metrics scrapes': tables.length,
    },
    [
      { name: 'no crash', pass: alive && shutdown?.code === 0 && server.stray.length === 0, detail: alive ? `alive; SIGTERM exit ${shutdown?.code ?? shutdown?.signal}; ${server.stray.length} stray stderr lines ${server.stray.slice(0, 3).join(' | ')}` : 'exited during the soak' },
      // Flat: what the slope adds over the whole settled window stays under 16 MiB.
      { name: 'RSS flat after warm-up', pass: after.length >= 2 && Math.abs(rssSlope) * postWarmupMinutes < MAX_GROWTH_MB, detail: `${rssSlope.toFixed(3)} MiB/min over ${postWarmupMinutes.toFixed(1)} min` },
      {
        name: 'bounded tables stay bounded',
        pass: settled.length > 0 && maxOf('entries') <= (cap?.maxEntries ?? 0) && maxOf('bytes') <= (cap?.maxBytes ?? 0) && maxOf('tcp') <= TCP_SLOTS + 8,
        detail: `cache ≤ ${cap?.maxEntries} entries and ${cap?.maxBytes} bytes, TCP ≤ ${TCP_SLOTS} slots (+8 being evicted)`,
      },
      { name: 'answers well-formed', pass: malformed.length === 0 && answers > 0, detail: malformed.length === 0 ? `${answers} answers to our clients decoded by dns-packet` : malformed.join(' | ') },
      {
        name: 'well-behaved p99 held',
        pass: early.n > 0 && late.n > 0 && late.p99 <= 2 * early.p99 + P99_SLACK_MS && late.lostShare <= 2 * early.lostShare + LOST_SLACK_POINTS / 100,
        detail: `last minute p99 ${late.p99.toFixed(1)} ms, ${(100 * late.lostShare).toFixed(1)}% lost, against the first settled minute ${early.p99.toFixed(1)} ms, ${(100 * early.lostShare).toFixed(1)}% lost (allowed 2x + ${P99_SLACK_MS} ms, 2x + ${LOST_SLACK_POINTS} points)`,
      },
    ],
  );
}

main().then(
  (pass) => process.exit(pass ? 0 : 1),
  (e) => {
    process.stderr.write(`soak: ${(e as Error).stack ?? e}\n`);
    process.exit(2);
  },
);
