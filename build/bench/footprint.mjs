// The footprint stage (issue #11): what a router owner feels rather than peak QPS. For each
// server, side by side in one run: RSS at start and after 100,000 distinct names, the names the
// default byte bound holds; and for Holdfast, a snapshot of those names written (SIGUSR1) and
// loaded at the next start while a probe asks a cached name every 5 ms, which shows how long
// answering stopped (the largest probe latency), how long the write and load took, and when the
// first answer came after the start.
//   node build/bench.mjs --footprint [--base PATH_TO_PREVIOUS_EXECUTABLE] [--only ...]
import dgram from 'node:dgram';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, rssKiB, startProcess, waitAnswering } from './procs.mjs';
import { dnsperf } from './dnsperf.mjs';
import { metricValue } from './metrics-text.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const PROBE_INTERVAL_MS = 5;

/** A minimal A query with RD, id `id`. */
function aQuery(id, name) {
  const parts = [Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of name.split('.').filter(Boolean)) parts.push(Buffer.from([l.length]), Buffer.from(l, 'ascii'));
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  return Buffer.concat(parts);
}

/**
 * Asks `name` on `port` every 5 ms until stop(). From the first answer on, each query's latency
 * is kept (an unanswered one counts until stop()): before it, the server was not listening yet.
 * stop() gives { sent, answered, firstAnswerMs (from the probe's start), maxLatencyMs, p99LatencyMs }.
 */
function startProbe(port, name) {
  const s = dgram.createSocket('udp4');
  const t0 = performance.now();
  const sentAt = new Map();
  const latencies = [];
  let firstAnswerMs = null;
  let firstAnswerAt = Infinity;
  let id = 0;
  s.on('message', (m) => {
    if (m.length < 12) return;
    const at = sentAt.get(m.readUInt16BE(0));
    if (at === undefined) return;
    sentAt.delete(m.readUInt16BE(0));
    const now = performance.now();
    if (firstAnswerMs === null) {
      firstAnswerMs = now - t0;
      firstAnswerAt = now;
    }
    latencies.push([at, now - at]);
  });
  s.on('error', () => {});
  const timer = setInterval(() => {
    id = (id + 1) & 0xffff;
    sentAt.set(id, performance.now());
    s.send(aQuery(id, name), port, '127.0.0.1');
  }, PROBE_INTERVAL_MS);
  return {
    since: () => performance.now() - t0,
    async stop() {
      clearInterval(timer);
      await sleep(200);
      const now = performance.now();
      // Sent once answering had begun (the one answered first, and every later one).
      const counted = latencies.filter(([at]) => at >= firstAnswerAt - PROBE_INTERVAL_MS * 2).map(([, l]) => l);
      const unanswered = [...sentAt.values()].filter((at) => at >= firstAnswerAt).map((at) => now - at);
      s.close();
      const all = [...counted].sort((a, b) => a - b);
      return {
        sent: counted.length + unanswered.length,
        answered: counted.length,
        firstAnswerMs,
        maxLatencyMs: Math.max(0, ...counted, ...unanswered),
        p99LatencyMs: all.length ? all[Math.min(all.length - 1, Math.floor(all.length * 0.99))] : null,
      };
    },
  };
}

/** Waits until `re` matches the process's output; the ms it took, or null after `timeoutMs`. */
async function waitOutput(proc, re, fromChars, timeoutMs) {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (re.test(proc.output().slice(fromChars))) return performance.now() - t0;
    await sleep(1);
  }
  return null;
}

/** Holdfast's command line for this stage. */
function holdfastArgv(binary, { port, upstreamPort, cacheSize, cacheMemory, httpPort, cacheFile }) {
  return [
    binary, 'serve', '--listen', `127.0.0.1:${port}`, '--upstream', `udp://127.0.0.1:${upstreamPort}`,
    '--cache-size', String(cacheSize), ...(cacheMemory ? ['--cache-memory', cacheMemory] : []),
    ...(httpPort ? ['--http', `127.0.0.1:${httpPort}`] : []),
    ...(cacheFile ? ['--cache-file', cacheFile, '--snapshot-interval', '604800'] : []),
    '--log-format', 'json', '--log-level', 'info',
  ];
}

function dnsmasqArgv({ port, upstreamPort, cacheSize }) {
  return [
    'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--no-poll',
    `--server=127.0.0.1#${upstreamPort}`, '--listen-address=127.0.0.1', '--bind-interfaces', `--port=${port}`,
    `--cache-size=${cacheSize}`, '--pid-file=', '--log-facility=-',
  ];
}

async function start(name, argvFor, { cpu, env, zone }) {
  const port = await freePort();
  const proc = startProcess(name, argvFor(port), { cpu, env });
  if (!(await waitAnswering(proc, port, `probe.${zone}`))) {
    await proc.stop(1000);
    throw new Error(`bench: ${name} did not answer (output: ${proc.output().trim().slice(-600)})`);
  }
  return Object.assign(proc, { port });
}

const mib = (kib) => Math.round((kib / 1024) * 10) / 10;

/**
 * variants: [{ key, label, binary?, env?, dnsmasq?, floor? (the floor executable), snapshot? }]. ctx: { cores, load, zone, files: { fill }, dir,
 * names, settleSeconds, log }. Returns { [key]: figures }.
 */
export async function runFootprintStage(variants, ctx, nsd) {
  const { cores, load, zone, files, dir, names, settleSeconds, log } = ctx;
  const out = {};
  log(`footprint: RSS at start and after ${names} names; snapshot write and load of them with a probe every ${PROBE_INTERVAL_MS} ms`);
  for (const v of variants) {
    const r = (out[v.key] = { label: v.label });
    // 1. Memory with a bound that does not bind (--cache-memory 8G; dnsmasq: --cache-size N).
    const argvFor = (opts) => (port) =>
      v.dnsmasq
        ? dnsmasqArgv({ port, upstreamPort: nsd.port, ...opts })
        : v.floor
          ? [v.floor, 'mixed', String(port), String(nsd.port)]
          : holdfastArgv(v.binary, { port, upstreamPort: nsd.port, ...opts });
    let s = await start(v.label, argvFor({ cacheSize: names, cacheMemory: '8G' }), { cpu: cores.server, env: v.env, zone });
    try {
      await sleep(1_000);
      r.startMiB = mib(rssKiB(s.pid));
      const fill = await dnsperf({ port: s.port, cpu: cores.load, load, file: files.fill, once: true, seconds: Math.ceil(names / 2_000) + 20 });
      r.fillAnswered = fill.completed;
      await sleep(1_000);
      r.filledMiB = mib(rssKiB(s.pid));
      await sleep(settleSeconds * 1000);
      r.settledMiB = mib(rssKiB(s.pid));
    } finally {
      await s.stop();
    }
    log(`  ${v.label}: ${r.startMiB} MiB at start, ${r.filledMiB} MiB after ${r.fillAnswered} names, ${r.settledMiB} MiB ${settleSeconds} s later`);
    // dnsmasq has no byte bound and no snapshot; the floor caches nothing.
    if (v.dnsmasq || v.floor) continue;

    // 2. The default byte bound: how many of the names it holds (inserts less evictions).
    const httpPort = await freePort();
    s = await start(v.label, argvFor({ cacheSize: names, httpPort }), { cpu: cores.server, env: v.env, zone });
    try {
      await dnsperf({ port: s.port, cpu: cores.load, load, file: files.fill, once: true, seconds: Math.ceil(names / 2_000) + 20 });
      const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      const inserts = metricValue(text, 'holdfast_cache_inserts_total');
      let evicted = 0;
      for (const line of text.split('\n')) if (line.startsWith('holdfast_cache_evictions_total{')) evicted += Number(line.trim().split(/\s+/).pop());
      r.defaultBoundHolds = inserts - evicted;
      r.defaultBoundMiB = mib(rssKiB(s.pid));
    } finally {
      await s.stop();
    }
    log(`  ${v.label}: the default --cache-memory holds ${r.defaultBoundHolds} of ${names} names (${r.defaultBoundMiB} MiB)`);
    if (!v.snapshot) continue;

    // 3. Snapshot: write on SIGUSR1 with the probe running, then load at the next start.
    const file = join(dir, `snapshot-${v.key}.bin`);
    rmSync(file, { force: true });
    s = await start(v.label, argvFor({ cacheSize: names, cacheMemory: '8G', cacheFile: file }), { cpu: cores.server, env: v.env, zone });
    try {
      await dnsperf({ port: s.port, cpu: cores.load, load, file: files.fill, once: true, seconds: Math.ceil(names / 2_000) + 20 });
      await sleep(500);
      const probe = startProbe(s.port, `r0.${zone}`);
      await sleep(200);
      const from = s.output().length;
      const t0 = performance.now();
      process.kill(s.pid, 'SIGUSR1');
      const took = await waitOutput(s, /cache snapshot written/, from, 30_000);
      r.writeMs = took === null ? null : Math.round(performance.now() - t0);
      await sleep(200);
      const p = await probe.stop();
      r.writeMaxLatencyMs = Math.round(p.maxLatencyMs * 10) / 10;
      r.writeProbes = `${p.answered}/${p.sent}`;
      r.snapshotBytes = existsSync(file) ? statSync(file).size : null;
    } finally {
      // Shutdown writes again (it changed nothing, but a write is allowed): the file stays whole.
      await s.stop(10_000);
    }
    // The load: the probe starts with the process, so the first answer counts from the spawn.
    // Once on the server's core alone, where JavaScriptCore's compiler threads take turns with
    // the load, as on a one-core router; then free to use every core, as on a multi-core one.
    for (const pinned of [true, false]) {
      const port = await freePort();
      const probe = startProbe(port, `r0.${zone}`);
      const proc = startProcess(v.label, argvFor({ cacheSize: names, cacheMemory: '8G', cacheFile: file })(port), { cpu: pinned ? cores.server : undefined, env: v.env });
      try {
        if (!pinned) {
          const loaded = await waitOutput(proc, /cache restored/, 0, 30_000);
          r.loadDoneUnpinnedMs = loaded === null ? null : Math.round(loaded);
          await sleep(300);
          r.loadMaxLatencyUnpinnedMs = Math.round((await probe.stop()).maxLatencyMs * 10) / 10;
          continue;
        }
        const loaded = await waitOutput(proc, /cache restored/, 0, 30_000);
        r.loadDoneMs = loaded === null ? null : Math.round(loaded);
        await sleep(300);
        const p = await probe.stop();
        r.firstAnswerMs = p.firstAnswerMs === null ? null : Math.round(p.firstAnswerMs);
        // Once answering began: the longest any probe then waited.
        r.loadMaxLatencyMs = Math.round(p.maxLatencyMs * 10) / 10;
        r.loadProbes = `${p.answered}/${p.sent}`;
        const m = /cache restored from [^:]*: (\d+) entries/.exec(proc.output());
        r.restored = m ? Number(m[1]) : null;
      } finally {
        await proc.stop(10_000);
      }
    }
    log(
      `  ${v.label}: snapshot ${r.snapshotBytes} bytes written in ${r.writeMs} ms (probe max ${r.writeMaxLatencyMs} ms, ${r.writeProbes} answered); ` +
        `loaded ${r.restored} in ${r.loadDoneMs} ms after the start, first answer at ${r.firstAnswerMs} ms (probe max ${r.loadMaxLatencyMs} ms, ${r.loadProbes}); ` +
        `on every core: loaded in ${r.loadDoneUnpinnedMs} ms (probe max ${r.loadMaxLatencyUnpinnedMs} ms)`,
    );
  }
  return out;
}

/** The stage's table: each figure per variant, with ratios to the first Holdfast variant and to dnsmasq. */
export function footprintTable(results) {
  const keys = Object.keys(results);
  const rows = [
    ['RSS at start, MiB', 'startMiB'],
    ['RSS after the names, MiB', 'filledMiB'],
    ['  settled, MiB', 'settledMiB'],
    ['default --cache-memory holds, names', 'defaultBoundHolds'],
    ['snapshot size, bytes', 'snapshotBytes'],
    ['snapshot write, ms', 'writeMs'],
    ['  longest probe wait during it, ms', 'writeMaxLatencyMs'],
    ['snapshot load done after start, ms', 'loadDoneMs'],
    ['first answer after start, ms', 'firstAnswerMs'],
    ['  longest probe wait from start, ms', 'loadMaxLatencyMs'],
    ['snapshot load done, every core free, ms', 'loadDoneUnpinnedMs'],
    ['  longest probe wait from start, ms', 'loadMaxLatencyUnpinnedMs'],
  ];
  const header = ['figure', ...keys.map((k) => results[k].label)];
  const lines = [header.join(' | '), header.map(() => '---').join(' | ')];
  for (const [label, field] of rows) lines.push([label, ...keys.map((k) => (results[k][field] ?? '–'))].join(' | '));
  const dnsmasq = keys.find((k) => k === 'dnsmasq');
  if (dnsmasq) {
    lines.push(['RSS after the names / dnsmasq', ...keys.map((k) => (results[k].filledMiB / results[dnsmasq].filledMiB).toFixed(2))].join(' | '));
  }
  return lines.map((l) => `| ${l} |`).join('\n');
}
