// The measurements: one dnsperf run with the server's CPU time read around it, and the three
// stages of the bench. Servers of a stage run side by side (idle ones cost nothing) and take turns
// in rounds, the order rotated each round, so background load on a shared machine falls on all
// of them alike; each figure is the median over rounds, with the spread kept.
import { dnsperf, percentile } from './dnsperf.mjs';
import { CLOCK_TICKS_PER_SECOND, coreTicks, cpuSeconds, rssKiB, rssPartsKiB } from './procs.mjs';
import { startServer } from './servers.mjs';

/** One dnsperf run, with the server's utime + stime (all threads) and its core's other load. */
export async function measure(server, run, { cores, load }) {
  const gone = (when) => new Error(`bench: ${server.name} ${when} (output: ${server.output().trim().slice(-400)})`);
  const core0 = cores.server === undefined ? null : coreTicks(cores.server);
  let cpu0;
  try {
    cpu0 = cpuSeconds(server.pid);
  } catch {
    throw gone('is not running');
  }
  const r = await dnsperf({ port: server.port, cpu: cores.load, load, ...run });
  let cpu;
  try {
    cpu = cpuSeconds(server.pid) - cpu0;
  } catch {
    throw gone('exited during the run');
  }
  // What else ran on the server's core meanwhile (other processes, the hypervisor's steal): noise.
  let otherOnServerCore = 0;
  if (core0) {
    const core1 = coreTicks(cores.server);
    const total = core1.total - core0.total;
    if (total > 0) otherOnServerCore = Math.max(0, (core1.busy - core0.busy - cpu * CLOCK_TICKS_PER_SECOND) / total);
  }
  const m = {
    command: r.command,
    sent: r.sent,
    completed: r.completed,
    lost: r.lost,
    rcodes: r.rcodes,
    runSeconds: r.runSeconds,
    qps: r.qps,
    avgLatencyMs: r.avgLatencyMs,
    cpuSeconds: cpu,
    cpuUsPerQuery: (cpu * 1e6) / r.completed,
    cpuBusy: cpu / r.runSeconds,
    otherOnServerCore,
  };
  if (r.latenciesMs) {
    const l = r.latenciesMs;
    Object.assign(m, {
      p50Ms: percentile(l, r.sent, 50),
      p90Ms: percentile(l, r.sent, 90),
      p99Ms: percentile(l, r.sent, 99),
      p999Ms: percentile(l, r.sent, 99.9),
      maxMs: l.reduce((a, b) => Math.max(a, b), 0),
    });
  }
  return m;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

const SUMMARISED = ['qps', 'cpuUsPerQuery', 'cpuBusy', 'p50Ms', 'p90Ms', 'p99Ms', 'p999Ms', 'maxMs', 'otherOnServerCore'];

/** Per field: the median over rounds, and [min, max]. */
export function summarise(rounds, fields = SUMMARISED) {
  const out = { rounds: rounds.length, spread: {} };
  for (const field of fields) {
    const xs = rounds.map((r) => r[field]).filter((x) => x !== undefined);
    if (!xs.length) continue;
    out[field] = median(xs);
    out.spread[field] = [Math.min(...xs), Math.max(...xs)];
  }
  return out;
}

export const rotate = (xs, n) => xs.map((_, i) => xs[(i + n) % xs.length]);
const fmtQps = (m) => `${Math.round(m.qps).toLocaleString('en-US')} qps, ${m.cpuUsPerQuery.toFixed(1)} µs CPU/query`;

/** Starts one server per key with `cacheSize` (and `cacheMemory` for Holdfast), runs `body(servers)`, stops them all. */
async function withServers(keys, ctx, cacheSize, nsd, body, cacheMemory = ctx.settings.unboundedCacheMemory) {
  const servers = {};
  try {
    for (const k of keys) {
      servers[k] = await startServer(ctx.kinds[k], { upstreamPort: nsd.port, cacheSize, cacheMemory, cpu: ctx.cores.server, zone: ctx.settings.zone });
    }
    return await body(servers);
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

/**
 * Memory: for each count of names, a fresh server with a cache of that many entries (dnsmasq
 * allocates its cache up front, so it is sized to match each time), its RSS read at start,
 * 1 s after one pass over that many new names, and once settled. Holdfast runs twice: with a byte bound too large to
 * bind (the entry count decides, as for dnsmasq), and with --cache-memory at the bounded size,
 * where RSS should stop growing. Fills its results[k].memory.
 */
export async function runMemoryStage(keys, ctx, nsd, results, take) {
  const { settings: S, files, log } = ctx;
  const opts = { cores: ctx.cores, load: S.load };
  log(`memory: RSS with ${S.memoryPoints.map(countLabel).join(', ')} names cached; Holdfast also with --cache-memory ${S.boundedCacheMemory}`);
  for (const k of keys) {
    const memory = (results[k].memory = {});
    const runs = [['rss', S.unboundedCacheMemory]];
    // dnsmasq has no byte bound, and the floor no cache.
    if (k !== 'dnsmasq' && k !== 'floor') runs.push(['bounded', S.boundedCacheMemory]);
    for (const [field, cacheMemory] of runs) {
      for (const n of S.memoryPoints) {
        await withServers(
          [k],
          ctx,
          n,
          nsd,
          async (servers) => {
            const s = servers[k];
            await sleep(500);
            const startKiB = rssKiB(s.pid);
            if (field === 'rss' && memory.startKiB === undefined) {
              memory.startKiB = startKiB;
              memory.startParts = rssPartsKiB(s.pid);
            }
            // One pass; a miss costs Holdfast 60-80 µs of CPU, so allow for 3,000 a second.
            const m = take(k, 'fills', await measure(s, { file: files.memory[n], once: true, seconds: Math.ceil(n / 3_000) + 10 }, opts));
            // Right after the load, the garbage of the miss path is still in RSS; Bun's collector
            // hands memory back to the system some seconds after the server goes idle.
            await sleep(1_000);
            const kib = rssKiB(s.pid);
            await sleep(S.settleSeconds * 1000);
            const settled = rssKiB(s.pid);
            Object.assign(memory, { [`${field}${n}`]: kib, [`${field}${n}Settled`]: settled, [`${field}${n}SettledParts`]: rssPartsKiB(s.pid), [`${field}${n}Answered`]: m.completed });
            if (k === 'dnsmasq') memory[`cacheNote${n}`] = /started, version .*/.exec(s.output())?.[0];
            const what = field === 'rss' ? '' : ` (--cache-memory ${cacheMemory})`;
            const mib = (x) => `${(x / 1024).toFixed(1)} MiB`;
            log(`  ${s.name}${what}: ${countLabel(n)} names, ${m.completed} answered at ${Math.round(m.qps)} qps: ${mib(startKiB)} at start, ${mib(kib)} after, ${mib(settled)} ${S.settleSeconds} s later`);
          },
          cacheMemory,
        );
      }
    }
  }
}

export const countLabel = (n) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1_000 ? `${n / 1_000}k` : String(n));

/**
 * Runs every stage for `keys` and returns, per key, the measurements of each round and their
 * summaries. ctx: { kinds, cores, settings, files, log }.
 */
export async function runStages(keys, ctx, nsd) {
  const { settings: S, files, log } = ctx;
  const opts = { cores: ctx.cores, load: S.load };
  const results = Object.fromEntries(keys.map((k) => [k, { rounds: { misses: [], hits: [], latency: [], missLatency: [], fullMisses: [], fills: [] }, lost: 0 }]));
  const take = (k, phase, m) => {
    results[k].lost += m.lost;
    if (phase) results[k].rounds[phase].push(m);
    return m;
  };
  if (S.memoryOnly) {
    await runMemoryStage(keys, ctx, nsd, results, take);
    return summariseAll(keys, results);
  }
  const once = (file, seconds = S.missSecondsMax) => ({ file, once: true, seconds });

  // 1. A cache big enough for everything: per round, distinct-name misses, then hits flat out,
  //    then hits at a fixed rate for latency.
  log(`stage 1: cache ${S.cacheSize}, ${S.rounds} rounds of misses, hits and latency`);
  await withServers(keys, ctx, S.cacheSize, nsd, async (servers) => {
    for (const k of keys) {
      // Caches the hit set (and warms the miss path), then warms the hit path.
      take(k, null, await measure(servers[k], once(files.hits), opts));
      take(k, null, await measure(servers[k], { file: files.hits, seconds: S.warmSeconds }, opts));
      if (k === 'dnsmasq') results[k].dnsmasqStartLine = /started, version .*/.exec(servers[k].output())?.[0];
    }
    for (let round = 0; round < S.rounds; round++) {
      for (const k of rotate(keys, round)) {
        const s = servers[k];
        const miss = take(k, 'misses', await measure(s, once(files.misses[round]), opts));
        const hit = take(k, 'hits', await measure(s, { file: files.hits, seconds: S.hitSeconds }, opts));
        const lat = take(k, 'latency', await measure(s, { file: files.hits, seconds: S.latencySeconds, qps: S.latencyQps, verbose: true }, opts));
        const missLat = take(k, 'missLatency', await measure(s, { file: files.missLatency[round], once: true, seconds: S.latencySeconds, qps: S.missLatencyQps, verbose: true }, opts));
        log(
          `  round ${round + 1} ${s.name}: misses ${fmtQps(miss)}; hits ${fmtQps(hit)}; p50 ${lat.p50Ms.toFixed(3)} ms, p99 ${lat.p99Ms.toFixed(3)} ms;` +
            ` misses at ${S.missLatencyQps}/s p90 ${missLat.p90Ms.toFixed(3)} ms, p99 ${missLat.p99Ms.toFixed(3)} ms`,
        );
      }
    }
  });

  // 2. A small cache, filled twice over first, so every measured miss evicts an entry.
  log(`stage 2: cache ${S.fullCacheSize}, filled with ${S.fillNames} names, ${S.rounds} rounds of misses`);
  await withServers(keys, ctx, S.fullCacheSize, nsd, async (servers) => {
    for (const k of keys) take(k, null, await measure(servers[k], once(files.fill), opts));
    for (let round = 0; round < S.rounds; round++) {
      for (const k of rotate(keys, round)) {
        const m = take(k, 'fullMisses', await measure(servers[k], once(files.misses[round]), opts));
        log(`  round ${round + 1} ${servers[k].name}: misses into a full cache ${fmtQps(m)}`);
      }
    }
  });

  // 3. Memory (runMemoryStage).
  await runMemoryStage(keys, ctx, nsd, results, take);

  return summariseAll(keys, results);
}

function summariseAll(keys, results) {
  for (const k of keys) {
    const r = results[k];
    for (const phase of Object.keys(r.rounds)) r[phase] = summarise(r.rounds[phase]);
    const all = Object.values(r.rounds).flat();
    if (all.length) r.otherOnServerCore = Math.max(...all.map((m) => m.otherOnServerCore));
  }
  return results;
}
