// One measurement for build/bench/snapshot-stall.mjs, in the runtime that runs it: a cache of
// COUNT entries made the way the server makes them, written to a snapshot file by the snapshot
// service and loaded into an empty cache, while a 1 ms interval timer records the longest gap
// between its runs: how long the event loop (and so answering) stood still. Prints JSON.
//   bun build/bench/snapshot-stall-child.ts SRC_ROOT COUNT FILE
// SRC_ROOT is the tree to take src/ from: this one, or a previous commit's checked out elsewhere,
// so both are measured in the same run.

import { readFileSync } from 'node:fs';

declare const process: { argv: string[]; pid: number; stdout: { write(s: string): void } };

const [root, countText, file] = process.argv.slice(2);
const count = Number(countText);
const src = (p: string) => import(`${root}/src/${p}`);
const { scanMessage, toStored } = await src('core/wire/message.ts');
const { parseQuery } = await src('core/wire/query.ts');
const { createCacheStore } = await src('pipeline/cache/store.ts');
const { createSnapshotService, WriteReason } = await src('services/snapshot/service.ts');
const { createCounters } = await src('core/counters.ts');
const fs = await src('adapters/node/fs.ts');

const u16 = (v: number) => [(v >>> 8) & 0xff, v & 0xff];
function nameBytes(text: string): number[] {
  const out: number[] = [];
  for (const l of text.split('.')) out.push(l.length, ...[...l].map((c) => c.charCodeAt(0)));
  return [...out, 0];
}

/** The bench zone's answer for r<i>.bench.test: one A record, as NSD sends it (no OPT here). */
function entry(i: number) {
  const qname = nameBytes(`r${i}.bench.test`);
  const query = Uint8Array.from([...u16(i & 0xffff), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...qname, 0, 1, 0, 1]);
  const reply = Uint8Array.from([...u16(i & 0xffff), 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, ...qname, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 1, 0x51, 0x80, 0, 4, 192, 0, 2, 1]);
  const parsed = parseQuery(query);
  const scan = scanMessage(reply);
  if (!parsed.ok || typeof scan === 'string') throw new Error('bench: bad test message');
  return [parsed.query.key, toStored(reply, scan, 86_400)] as const;
}

const clock = { now: () => Date.now() };
const timers = { setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as number) };
// Between slices, what the server of that tree does (server/start.ts): a turn of the loop by
// Timers.setImmediate where its ports have one (#11), else setTimeout(0) as before.
const { createNodeRuntime } = await src('adapters/node/runtime.ts');
const runtimeTimers = createNodeRuntime([]).timers;
const yieldToLoop = runtimeTimers.setImmediate
  ? () => new Promise<void>((r) => runtimeTimers.setImmediate(r))
  : () => new Promise<void>((r) => setTimeout(r, 0));
const ports = { clock, timers, fs, yieldToLoop };
const options = { file, intervalSeconds: 86_400, minChanges: 1, staleIfErrorSeconds: 86_400, maxTtlSeconds: 86_400 };

/** CPU time of the main thread (the event loop's), to the nanosecond: /proc/PID/task/PID/schedstat. */
const SCHEDSTAT = `/proc/${process.pid}/task/${process.pid}/schedstat`;
const cpuMs = () => Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]) / 1e6;

/**
 * Runs `work` while a 1 ms timer watches the loop. Gives its duration, the longest wall-clock gap
 * between two runs of the timer, and the most CPU the main thread used between two runs: on a
 * busy machine the wall-clock gap also holds time spent waiting for a core, while the CPU figure
 * is what the work itself (and any collection on that thread) held the loop for.
 */
async function watched(work: () => Promise<unknown>): Promise<{ ms: number; maxGapMs: number; maxCpuBetweenMs: number; cpuMs: number }> {
  let last = performance.now();
  let lastCpu = cpuMs();
  let maxGapMs = 0;
  let maxCpu = 0;
  const t = setInterval(() => {
    const now = performance.now();
    const cpu = cpuMs();
    maxGapMs = Math.max(maxGapMs, now - last);
    maxCpu = Math.max(maxCpu, cpu - lastCpu);
    last = now;
    lastCpu = cpu;
  }, 1);
  await new Promise((r) => setTimeout(r, 20));
  maxGapMs = 0;
  maxCpu = 0;
  last = performance.now();
  lastCpu = cpuMs();
  const t0 = performance.now();
  const c0 = cpuMs();
  await work();
  const ms = performance.now() - t0;
  const used = cpuMs() - c0;
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(t);
  const r1 = (x: number) => Math.round(x * 10) / 10;
  return { ms: Math.round(ms), maxGapMs: r1(Math.max(maxGapMs, performance.now() - last)), maxCpuBetweenMs: r1(maxCpu), cpuMs: Math.round(used) };
}

const nowMs = Date.now();
const store = createCacheStore(count, clock.now, 86_400_000);
for (let i = 0; i < count; i++) {
  const [key, message] = entry(i);
  store.set(key, message, nowMs, 3_600_000);
}
const counters = createCounters();
counters.cache_inserts = count;
const writer = createSnapshotService(options, ports, store, counters);
const write = await watched(() => writer.write(WriteReason.request));
const loaded = createCacheStore(count, clock.now, 86_400_000);
const reader = createSnapshotService(options, ports, loaded, createCounters());
let restored = 0;
const load = await watched(async () => {
  restored = (await reader.load())?.restored ?? 0;
});
process.stdout.write(`${JSON.stringify({ root, count, restored, write, load })}\n`);
