// What a cache hit allocates on Holdfast's side of the socket (#11): the handle the server
// builds (admission, parse, the chain, render, latency histograms) answering one cached name
// over and over, in Bun, with JavaScriptCore's object counts read around the loop. The UDP
// listener takes handle.hit (the fast path) for a fresh hit; the full handle() is counted too.
//   bun build/bench/hit-alloc-child.ts [HITS]
// Prints JSON: objects allocated per hit by type (from two loops of different lengths with no
// collection between the reads, so heapStats' own allocations cancel out), and the heap
// retained after HITS hits and a full collection (a leak would show there). Bun's own
// allocations per datagram (the received Buffer, the sender's address string) are outside it:
// build/bench/hit-alloc-child.ts never touches a socket.

import { heapStats } from 'bun:jsc';
import { DEFAULT_CONFIG, type ServerConfig } from '../../src/config/config.ts';
import type { ClientInfo } from '../../src/core/answer.ts';
import { createCounters } from '../../src/core/counters.ts';
import { createHandle } from '../../src/core/handle.ts';
import { createLatencyHistograms } from '../../src/core/latency.ts';
import type { CorePorts, UdpClientHandlers } from '../../src/core/ports.ts';
import { createBunRuntime } from '../../src/adapters/bun/runtime.ts';
import { createAdmission } from '../../src/gate/admission.ts';
import { createPipeline } from '../../src/pipeline/chain.ts';

declare const Bun: { gc(full: boolean): void };
declare const process: { argv: string[]; stdout: { write(s: string): void } };

const hits = Number(process.argv[2] ?? 100_000);

/** A query for `name` A with an OPT (as dig and dnsperf send), ID 0x1234. */
function queryFor(name: string): Uint8Array {
  const labels = name.split('.').flatMap((l) => [l.length, ...[...l].map((c) => c.charCodeAt(0))]);
  return Uint8Array.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, ...labels, 0, 0, 1, 0, 1, 0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
}

/** The upstream: answers every query with one A record, TTL one day, as the bench's NSD does. */
function answer(q: Uint8Array): Uint8Array {
  let p = 12;
  while (q[p] !== 0) p += q[p] + 1;
  const questionEnd = p + 5;
  const out = new Uint8Array(questionEnd + 16);
  out.set(q.subarray(0, questionEnd));
  out[2] = 0x81;
  out[3] = 0x80;
  out[7] = 1; // ANCOUNT
  out[11] = 0; // no OPT back
  out.set([0xc0, 12, 0, 1, 0, 1, 0, 1, 0x51, 0x80, 0, 4, 192, 0, 2, 1], questionEnd);
  return out;
}

const runtime = createBunRuntime([]);
const ports: CorePorts = {
  ...runtime,
  net: {
    ...runtime.net,
    connectUdp: (_address: string, _port: number, handlers: UdpClientHandlers) =>
      Promise.resolve({
        send: (bytes: Uint8Array) => queueMicrotask(() => handlers.onMessage(answer(bytes), { address: '192.0.2.53', port: 53 })),
        close() {},
      }),
  },
};
const config: ServerConfig = { ...DEFAULT_CONFIG, upstreams: ['udp://192.0.2.53'], access: { ...DEFAULT_CONFIG.access, allow: ['127.0.0.0/8'] } };
const counters = createCounters();
const pipeline = createPipeline(config, ports, counters);
const admission = createAdmission(config.access, config.rateLimit, runtime.clock, counters);
const latency = createLatencyHistograms();
const handle = createHandle(pipeline.chain, counters, {
  latency: { histograms: latency, now: () => runtime.clock.monotonicMs!() },
  admit: (address, transport) => admission.admitFrom(address, transport),
  hits: pipeline.hits,
});
const hit = handle.hit!;
const client: ClientInfo = { address: '127.0.0.1', port: 40_000, transport: 'udp' };
const q = queryFor('h1.bench.test');

const first = handle(q, client);
if (!(first instanceof Promise) || !(await first)) throw new Error('hit-alloc: the first query was not a miss that got an answer');
if (handle(q, client) instanceof Promise) throw new Error('hit-alloc: the second query was not a synchronous cache hit');
if (!(hit(q, client.address) instanceof Uint8Array)) throw new Error('hit-alloc: handle.hit did not answer the cached name');

let full = false;
function loop(n: number): void {
  if (full) for (let i = 0; i < n; i++) handle(q, client);
  else for (let i = 0; i < n; i++) hit(q, client.address);
}

type Counts = Record<string, number>;
const diff = (a: Counts, b: Counts): Counts => {
  const d: Counts = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) d[k] = (b[k] ?? 0) - (a[k] ?? 0);
  return d;
};
/** Objects allocated by `n` hits, by type, counted with no collection in between. */
function allocated(n: number): Counts {
  Bun.gc(true);
  const before = heapStats().objectTypeCounts as Counts;
  loop(n);
  return diff(before, heapStats().objectTypeCounts as Counts);
}

/** Objects per hit by type: the median of a few pairs, as a collection inside a loop shows as an outlier. */
function perHitCounts(): Counts {
  loop(20_000); // warm: the JIT's tiers settle before counting
  const small = 500;
  const large = 1_500;
  const pairs = Array.from({ length: 5 }, () => diff(allocated(small), allocated(large)));
  const out: Counts = {};
  for (const k of new Set(pairs.flatMap((p) => Object.keys(p)))) {
    const xs = pairs.map((p) => (p[k] ?? 0) / (large - small)).sort((a, b) => a - b);
    const median = xs[xs.length >> 1];
    if (Math.abs(median) >= 0.01) out[k] = Math.round(median * 100) / 100;
  }
  return out;
}
const total = (c: Counts) => Math.round(Object.values(c).reduce((a, b) => a + b, 0) * 100) / 100;

full = true;
const fullPerHit = perHitCounts();
full = false;
const perHit = perHitCounts();

Bun.gc(true);
const heapBefore = heapStats().heapSize;
loop(hits);
Bun.gc(true);
const heapAfter = heapStats().heapSize;

process.stdout.write(
  `${JSON.stringify({
    hits,
    objectsPerHit: perHit,
    objectsPerHitTotal: total(perHit),
    fullHandleObjectsPerHit: fullPerHit,
    fullHandleObjectsPerHitTotal: total(fullPerHit),
    retainedBytesAfterHits: heapAfter - heapBefore,
    answeredFromCache: counters.answers_cache_fresh,
  })}\n`,
);
pipeline.closeUpstreams();
