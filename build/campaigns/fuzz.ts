// `npm run fuzz -- --packets N`: N packets, mutated from a corpus of real queries and replies
// (build/campaigns/corpus.ts) or plain random, sent over UDP and TCP to the shipped Bun
// executable, which forwards to an upstream that breaks a share of its replies too. Checks: the
// server stays up and prints no stack trace, a well-formed probe is answered within 1 s every
// 250 ms throughout (UDP, and over a fresh TCP connection every second), RSS stays under a
// bound, and every reply is well-formed to dns-packet. Bounded by --packets and --max-minutes.
//   bun build/campaigns/fuzz.ts [--packets 100000] [--max-minutes 40] [--seed 1]

import { Buffer } from 'node:buffer';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { hex, mutate } from '../../test/helpers/mutate.ts';
import { createPrng, type Prng } from '../../test/helpers/prng.ts';
import { advertisedUdpSize, checkAnswer, machine, numberArg, readArgs, report, rssKb, sleep, startServer, type Server } from './common.ts';
import { queryCorpus } from './corpus.ts';
import { startUpstream } from './mutating-upstream.ts';

const args = readArgs(process.argv.slice(2));
const PACKETS = numberArg(args, 'packets', 100_000);
const MAX_MS = numberArg(args, 'max-minutes', 40) * 60_000;
const SEED = numberArg(args, 'seed', 0x5eed);
const MAX_RSS_MB = numberArg(args, 'max-rss-mb', 400);
const UDP_WORKERS = 64;
// The split of UDP and TCP traffic follows from the worker counts (the report gives it).
const TCP_WORKERS = 4;
// A dropped packet holds its worker this long: short, so drops cost little throughput.
const UDP_WAIT_MS = 25;
const TCP_WAIT_MS = 200;
const PROBE_EVERY_MS = 250;
const STALL_MS = 1000;
/** A second loopback address, so the probes have a listener (and a receive queue) of their own. */
const PROBE_ADDRESS = '127.0.0.2';

const corpus = queryCorpus();
const stats = { sent: 0, sentUdp: 0, sentTcp: 0, answers: 0, formerr: 0, otherRcodes: 0, late: 0, drops: 0, malformed: 0, tcpClosed: 0 };
const rcodes: Record<string, number> = {};
const malformedSamples: string[] = [];
const started = Date.now();
const done = () => stats.sent >= PACKETS || Date.now() - started > MAX_MS || stopped;
let stopped = false;

let nextId = 0;

/**
 * One packet to send: a corpus entry, mutated or not (90%), or random bytes. Its ID is then a fresh one,
 * so a late reply (one the upstream held past the wait) is never taken for the current one's.
 */
function nextPacket(rnd: Prng): Uint8Array {
  // A share goes unmutated so the cache, coalescing and upstream paths all see traffic. Random
  // packets get a fresh ID too: with a random one, a late reply to an earlier query with that
  // ID was taken for theirs (a false finding in the first long run).
  const out = rnd.chance(0.1) ? rnd.bytes(rnd.range(0, 120)) : rnd.chance(0.15) ? rnd.pick(corpus).slice() : mutate(rnd.pick(corpus), rnd).bytes;
  nextId = (nextId + 1) & 0xffff;
  if (out.length >= 2) {
    out[0] = nextId >> 8;
    out[1] = nextId & 0xff;
  }
  return out;
}

function record(query: Uint8Array | null, reply: Uint8Array, overUdp: boolean, expectId: number | null): void {
  const verdict = checkAnswer(reply, overUdp && query ? advertisedUdpSize(query) : null, query);
  if (!verdict.ok) {
    // A UDP reply larger than this query asked for may belong to an earlier query (late).
    stats.malformed++;
    if (malformedSamples.length < 5) {
      const sample = `${verdict.problem}: query ${query ? hex(query) : '?'} reply ${hex(reply)}`;
      malformedSamples.push(sample);
      // Now, not only in the report: a long run's first finding is worth reading at once.
      process.stderr.write(`fuzz: malformed answer: ${sample}\n`);
    }
    return;
  }
  if (expectId !== null && verdict.id !== expectId) stats.late++;
  stats.answers++;
  rcodes[verdict.rcode] = (rcodes[verdict.rcode] ?? 0) + 1;
  if (verdict.rcode === 'FORMERR') stats.formerr++;
  else if (verdict.rcode !== 'NOERROR') stats.otherRcodes++;
}

async function udpWorker(port: number, seed: number): Promise<void> {
  const rnd = createPrng(seed);
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  // (Sent to PROBE_ADDRESS: see main.)
  let wake: (() => void) | null = null;
  let current: Uint8Array | null = null;
  sock.on('message', (msg) => {
    const q = current;
    const id = q && q.length >= 2 ? (q[0] << 8) | q[1] : null;
    // A reply to an earlier query is checked without the size limit of the current one.
    record(id !== null && msg.length >= 2 && msg.readUInt16BE(0) === id ? q : null, new Uint8Array(msg), true, id);
    wake?.();
  });
  sock.on('error', () => {});
  while (!done()) {
    current = nextPacket(rnd);
    stats.sent++;
    stats.sentUdp++;
    const got = new Promise<boolean>((r) => {
      const t = setTimeout(() => r(false), UDP_WAIT_MS);
      wake = () => {
        clearTimeout(t);
        r(true);
      };
    });
    sock.send(current, port, '127.0.0.1');
    if (!(await got)) stats.drops++;
    wake = null;
  }
  sock.close();
}

async function tcpWorker(port: number, seed: number): Promise<void> {
  const rnd = createPrng(seed);
  while (!done()) {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let wake: ((ok: boolean) => void) | null = null;
    let current: Uint8Array | null = null;
    let open = true;
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + msg.length);
        const id = current && current.length >= 2 ? (current[0] << 8) | current[1] : null;
        record(current, msg, false, id);
        wake?.(true);
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      open = false;
      stats.tcpClosed++;
      wake?.(false);
    });
    await new Promise<void>((r) => {
      sock.once('connect', () => r());
      sock.once('close', () => r());
    });
    while (open && !done()) {
      current = nextPacket(rnd);
      stats.sent++;
      stats.sentTcp++;
      const frame = Buffer.alloc(2 + current.length);
      // Now and then a length prefix that lies: a partial frame the server must time out.
      frame.writeUInt16BE(rnd.chance(0.01) ? rnd.int(0x10000) : current.length, 0);
      Buffer.from(current).copy(frame, 2);
      const got = new Promise<boolean>((r) => {
        const t = setTimeout(() => r(false), TCP_WAIT_MS);
        wake = (ok) => {
          clearTimeout(t);
          r(ok);
        };
      });
      sock.write(frame);
      if (!(await got)) {
        stats.drops++;
        // Out of step (a lying frame, a dropped query): start a fresh connection.
        break;
      }
      wake = null;
    }
    sock.destroy();
  }
}

interface ProbeStats {
  sent: number;
  slowest: number;
  stalls: number;
  stallSamples: string[];
}

/** A well-formed query every 250 ms over UDP, and over a fresh TCP connection every 1 s. */
async function probe(port: number, p: ProbeStats): Promise<void> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  // (Sent to PROBE_ADDRESS: see main.)
  const waiting = new Map<number, (v: void) => void>();
  sock.on('message', (msg) => {
    if (checkAnswer(new Uint8Array(msg)).ok) waiting.get(msg.readUInt16BE(0))?.();
  });
  let nextProbeId = 0;
  const one = async (overTcp: boolean) => {
    // Its own ID, held by this call: a shared one let a slow probe, once answered, delete the
    // entry of a newer probe, which then counted as a stall (a false finding of the first run).
    const id = (nextProbeId = (nextProbeId + 1) & 0xffff);
    const q = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: `good.probe${id % 4}.fuzz.test` }] });
    const t0 = performance.now();
    p.sent++;
    const answered = overTcp ? tcpOnce(port, q) : new Promise<void>((r) => {
      waiting.set(id, r);
      sock.send(q, port, PROBE_ADDRESS);
    });
    const ok = await Promise.race([answered.then(() => true), sleep(STALL_MS).then(() => false)]);
    if (!overTcp) waiting.delete(id);
    const ms = performance.now() - t0;
    p.slowest = Math.max(p.slowest, ok ? ms : STALL_MS);
    if (!ok) {
      p.stalls++;
      if (p.stallSamples.length < 5) p.stallSamples.push(`${overTcp ? 'tcp' : 'udp'} probe at ${Math.round((Date.now() - started) / 1000)} s`);
    }
  };
  let n = 0;
  while (!done()) {
    const tick = sleep(PROBE_EVERY_MS);
    one(false);
    if (n++ % 4 === 0) one(true);
    await tick;
  }
  await sleep(STALL_MS + 50);
  sock.close();
}

function tcpOnce(port: number, q: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const sock = net.connect(port, PROBE_ADDRESS);
    const frame = Buffer.alloc(2 + q.length);
    frame.writeUInt16BE(q.length, 0);
    q.copy(frame, 2);
    let buf = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.setTimeout(STALL_MS, () => sock.destroy());
    sock.on('connect', () => sock.write(frame));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        if (checkAnswer(new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0)))).ok) resolve();
        sock.destroy();
      }
    });
  });
}

async function main(): Promise<boolean> {
  const upstream = await startUpstream({ seed: SEED ^ 0xabcdef, mutateShare: 0.35, ttlSeconds: 30 });
  // The probes ask a listener of their own: the flood fills the first socket's receive queue
  // past what the kernel keeps, and a probe the kernel dropped there says nothing of a stall.
  // A stall of the server (its event loop) delays both sockets alike, so the probe still sees it.
  const server: Server = await startServer(['--upstream', `udp://127.0.0.1:${upstream.port}`, '--rate-limit', '0', '--timeout', '1000', '--listen', `127.0.0.1:0`, '--listen', `${PROBE_ADDRESS}:0`]);
  let probePort: number | null = null;
  for (let i = 0; i < 200 && probePort === null; i++) {
    probePort = server.portOf(PROBE_ADDRESS);
    if (probePort === null) await sleep(10);
  }
  if (probePort === null) throw new Error(`fuzz: no listener on ${PROBE_ADDRESS} was logged`);
  const rss: number[] = [];
  let exitedEarly: string | null = null;
  server.exited.then((r) => {
    if (!stopped) exitedEarly = `exited (${r.code ?? r.signal}) after ${stats.sent} packets`;
    stopped = true;
  });
  const sampler = setInterval(() => {
    const kb = rssKb(server.pid);
    if (kb !== null) rss.push(kb);
  }, 1000);
  let lastSent = 0;
  const progress = setInterval(() => {
    const rate = (stats.sent - lastSent) / 10;
    lastSent = stats.sent;
    process.stderr.write(`fuzz: ${stats.sent.toLocaleString('en-US')} sent, ${Math.round(rate)}/s, RSS ${Math.round((rss.at(-1) ?? 0) / 1024)} MiB, malformed ${stats.malformed}\n`);
  }, 10_000);
  const probeStats: ProbeStats = { sent: 0, slowest: 0, stalls: 0, stallSamples: [] };
  // This driver's own event-loop lag: on a busy machine a probe can wait on us, not the server.
  let lagMaxMs = 0;
  let lagLast = performance.now();
  const lagTimer = setInterval(() => {
    const now = performance.now();
    lagMaxMs = Math.max(lagMaxMs, now - lagLast - 100);
    lagLast = now;
  }, 100);
  const rnd = createPrng(SEED);
  await Promise.all([
    ...Array.from({ length: UDP_WORKERS }, () => udpWorker(server.port, rnd.int(2 ** 31))),
    ...Array.from({ length: TCP_WORKERS }, () => tcpWorker(server.port, rnd.int(2 ** 31))),
    probe(probePort, probeStats),
  ]);
  // Replies still in flight arrive before the figures are read.
  await sleep(200);
  clearInterval(sampler);
  clearInterval(progress);
  clearInterval(lagTimer);
  const seconds = (Date.now() - started) / 1000;
  const alive = server.alive();
  const finalRss = rssKb(server.pid) ?? rss.at(-1) ?? 0;
  const maxRss = Math.max(...rss, finalRss);
  stopped = true;
  const shutdown = alive ? await server.stop() : null;
  await upstream.close();
  return report(
    `fuzz: ${stats.sent.toLocaleString('en-US')} packets in ${seconds.toFixed(0)} s (seed ${SEED}; ${machine()})`,
    {
      'packets sent (udp / tcp)': `${stats.sent} (${stats.sentUdp} / ${stats.sentTcp})`,
      'rate, packets/s': stats.sent / seconds,
      'answers': stats.answers,
      'answers FORMERR': stats.formerr,
      'answers other non-NOERROR': stats.otherRcodes,
      'rcodes': JSON.stringify(rcodes),
      'late answers (earlier query)': stats.late,
      'no answer within the wait': stats.drops,
      'tcp connections closed': stats.tcpClosed,
      'upstream replies': JSON.stringify(upstream.counts),
      'probes sent': probeStats.sent,
      'slowest probe, ms': probeStats.slowest,
      'driver event-loop lag max, ms': lagMaxMs,
      'RSS first / max / final, MiB': `${((rss[0] ?? 0) / 1024).toFixed(1)} / ${(maxRss / 1024).toFixed(1)} / ${(finalRss / 1024).toFixed(1)}`,
    },
    [
      { name: 'no crash', pass: alive && exitedEarly === null && shutdown?.code === 0, detail: exitedEarly ?? `alive to the end; SIGTERM exit ${shutdown?.code ?? shutdown?.signal}` },
      { name: 'no stack trace', pass: server.stray.length === 0, detail: server.stray.length === 0 ? 'stderr held only JSON log lines' : server.stray.slice(0, 5).join(' | ') },
      { name: 'no stall over 1 s', pass: probeStats.stalls === 0 && probeStats.sent > 0, detail: probeStats.stalls === 0 ? `${probeStats.sent} probes, slowest ${probeStats.slowest.toFixed(0)} ms` : `${probeStats.stalls} probes unanswered in 1 s: ${probeStats.stallSamples.join(', ')}` },
      { name: 'RSS bounded', pass: maxRss / 1024 <= MAX_RSS_MB, detail: `max ${(maxRss / 1024).toFixed(1)} MiB (bound ${MAX_RSS_MB} MiB)` },
      { name: 'answers well-formed', pass: stats.malformed === 0 && stats.answers > 0, detail: stats.malformed === 0 ? `${stats.answers} answers decoded by dns-packet` : `${stats.malformed} malformed: ${malformedSamples.join(' ;; ')}` },
    ],
  );
}

main().then(
  (pass) => process.exit(pass ? 0 : 1),
  (e) => {
    process.stderr.write(`fuzz: ${(e as Error).stack ?? e}\n`);
    process.exit(2);
  },
);
