// `npm run bench`: Holdfast (the compiled Bun binary and the Node bundle) against dnsmasq, all
// forwarding to one NSD on loopback that serves a wildcard zone, driven by dnsperf with the same
// query lists. Prints QPS, CPU per query, latency and RSS, each as a ratio to dnsmasq, and writes
// them to .cache/bench/last.json. Not a test: `npm test` never runs it. docs/benchmarks.md says
// how to read the figures.
//   node build/bench.mjs [--only bun,node,dnsmasq] [--quick] [--memory] [--cpu-prof hits|misses]
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeNames } from './bench/dnsperf.mjs';
import { measure, runStages } from './bench/measure.mjs';
import { killAllNow, pinSelf, stopAll } from './bench/procs.mjs';
import { renderTop, topFunctions } from './bench/profile.mjs';
import { renderTable, tabulate } from './bench/report.mjs';
import { serverKinds, startNsd, startServer } from './bench/servers.mjs';
import { buildServers, checkTools, describeMachine } from './bench/setup.mjs';

process.chdir(fileURLToPath(new URL('..', import.meta.url)));
const log = (line) => process.stderr.write(`${line}\n`);
const USAGE = `usage: node build/bench.mjs [--only bun,node,dnsmasq] [--quick] [--memory] [--cpu-prof hits|misses]
  --only      servers to measure (default: all three; ratios are to dnsmasq when it is among them)
  --quick     one round, half the durations: a smoke run, not figures to quote
  --memory    only the memory stage, up to 1,000,000 cached names (about 12 minutes)
  --cpu-prof  profile the Node server (node --cpu-prof) in the hit or miss phase and list the
              functions with the most self time, instead of the comparison`;

let opts;
try {
  opts = parseArgs({
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean' },
      memory: { type: 'boolean' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (e) {
  log(`bench: ${e.message}\n${USAGE}`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const SERVERS = ['bun', 'node', 'dnsmasq'];
const chosen = opts.only ? opts.only.split(',').map((s) => s.trim()) : SERVERS;
const usageError = chosen.find((s) => !SERVERS.includes(s))
  ? `bench: --only takes some of ${SERVERS.join(', ')}`
  : opts['cpu-prof'] !== undefined && !['hits', 'misses'].includes(opts['cpu-prof'])
    ? 'bench: --cpu-prof takes hits or misses'
    : null;
if (usageError) {
  log(`${usageError}\n${USAGE}`);
  process.exit(2);
}

const quick = opts.quick ? 0.5 : 1;
const SETTINGS = {
  zone: 'bench.test',
  // Long enough that nothing cached expires during a run.
  ttlSeconds: 86_400,
  // Servers take turns in each round; figures are medians over rounds.
  rounds: opts.quick ? 1 : 3,
  // Holds the hit set, every round's misses and the RSS load with room to spare.
  cacheSize: 200_000,
  fullCacheSize: 10_000,
  // The hit set: cached first (which also warms the miss path), then queried in a loop.
  hitNames: 10_000,
  // Distinct names per round for the miss phases, the same lists for every server.
  missNamesPerRound: 50_000,
  // Names that fill the small cache before its miss phases: twice its size, so it is evicting.
  fillNames: 20_000,
  // Memory: RSS of a fresh server after this many distinct names, its cache sized to hold them.
  // A million takes minutes per server, so only --memory goes that far.
  memoryOnly: Boolean(opts.memory),
  memoryPoints: opts.memory ? [10_000, 100_000, 1_000_000] : [10_000, 100_000],
  // Holdfast's byte bound: one too large to bind (the entry count decides, as for dnsmasq), and
  // the default, under which RSS should level off.
  unboundedCacheMemory: '8G',
  boundedCacheMemory: '8M',
  // RSS is read 1 s after the names and again this much later, when Bun has returned garbage.
  settleSeconds: 15,
  warmSeconds: 3 * quick,
  hitSeconds: 6 * quick,
  // A miss phase ends after one pass through its names or after this long, whichever is first.
  missSecondsMax: 10 * quick,
  latencyQps: 10_000,
  latencySeconds: 3 * quick,
  // dnsperf: one socket, 100 queries in flight (-c 1 -q 100), stragglers waited for 2 s (-t 2).
  load: { clients: 1, outstanding: 100, timeoutSeconds: 2 },
};

const nproc = os.availableParallelism?.() ?? os.cpus().length;
// Two cores or more: the servers on core 0; dnsperf, NSD and this script on core 1.
const CORES = nproc >= 2 ? { server: 0, load: 1 } : { server: undefined, load: undefined };
const PINNING = CORES.server === undefined ? 'no pinning (fewer than 2 cores)' : `servers on core ${CORES.server}; dnsperf, nsd and the bench on core ${CORES.load}`;

/** Whether dnsmasq took the cache size asked for: it logs the size it uses when it starts. */
function dnsmasqCacheNote(startLine, asked) {
  const used = Number(/cachesize (\d+)/.exec(startLine ?? '')?.[1]);
  if (!used) return 'did not log its cache size';
  return used < asked ? `capped --cache-size ${asked} to ${used}` : `took --cache-size ${asked} ("${startLine}")`;
}

async function writeQueryFiles(dir) {
  const S = SETTINGS;
  const misses = [];
  for (let round = 0; round < S.rounds; round++) {
    misses.push(await writeNames(join(dir, `misses-${round + 1}.txt`), `m${round + 1}-`, S.missNamesPerRound, S.zone));
  }
  return {
    hits: await writeNames(join(dir, 'hits.txt'), 'h', S.hitNames, S.zone),
    misses,
    fill: await writeNames(join(dir, 'fill.txt'), 'f', S.fillNames, S.zone),
    memory: Object.fromEntries(
      await Promise.all(S.memoryPoints.map(async (n) => [n, await writeNames(join(dir, `memory-${n}.txt`), `r${n}-`, n, S.zone)])),
    ),
  };
}

/** --cpu-prof PHASE: the Node server's hit or miss phase under `node --cpu-prof`, by function. */
async function profileNode(phase, artefacts, files, nsd) {
  const dir = '.cache/bench/cpu-prof';
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const kind = serverKinds({ ...artefacts, extraNodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`] }).node;
  const server = await startServer(kind, {
    upstreamPort: nsd.port,
    cacheSize: SETTINGS.cacheSize,
    cacheMemory: SETTINGS.unboundedCacheMemory,
    cpu: CORES.server,
    zone: SETTINGS.zone,
  });
  const opts = { cores: CORES, load: SETTINGS.load };
  let phaseStartMs;
  try {
    await measure(server, { file: files.hits, once: true, seconds: SETTINGS.missSecondsMax }, opts);
    phaseStartMs = Date.now();
    const m =
      phase === 'hits'
        ? await measure(server, { file: files.hits, seconds: SETTINGS.hitSeconds * 2 }, opts)
        : await measure(server, { file: files.memory[100_000], once: true, seconds: SETTINGS.missSecondsMax * 2 }, opts);
    log(`${phase} (profiled): ${Math.round(m.qps)} qps, ${m.cpuUsPerQuery.toFixed(1)} µs CPU/query`);
  } finally {
    await server.stop(); // node writes the profile as it exits
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`bench: node wrote no profile into ${dir}`);
  // The server exited just now, so the phase is the profile's last (now - phaseStartMs) ms.
  const top = topFunctions(join(dir, file), { lastMs: Date.now() - phaseStartMs });
  process.stdout.write(`\nNode server, ${phase} phase only (${join(dir, file)}):\n${renderTop(top)}\n`);
}

function report(info, artefacts, results, loadAverage, seconds) {
  const S = SETTINGS;
  const reference = chosen.includes('dnsmasq') ? 'dnsmasq' : chosen[0];
  const labels = Object.fromEntries(chosen.map((k) => [k, serverKinds(artefacts)[k].label]));
  const table = tabulate(results, S, reference);
  const lines = [
    '',
    `machine:  ${info.nproc} cores, ${info.cpuModel}, ${info.kernel}, ${info.memoryGiB} GiB; ${info.pinning}`,
    `versions: ${Object.entries(info.versions).map(([k, v]) => `${k} ${v ?? '?'}`).join(', ')}`,
    `built:    ${artefacts.how}`,
    `load:     1-minute load average ${loadAverage[0].toFixed(2)} before, ${loadAverage[1].toFixed(2)} after (the bench itself adds about 1)`,
    `settings: zone *.${S.zone} (wildcard A, TTL ${S.ttlSeconds}), upstream NSD; dnsperf -c ${S.load.clients} -q ${S.load.outstanding} -t ${S.load.timeoutSeconds}; ${S.rounds} round(s), servers taking turns`,
    ...(S.memoryOnly
      ? []
      : [
          `          hits: ${S.hitNames} cached names looped ${S.hitSeconds} s flat out; cache ${S.cacheSize}`,
          `          misses: ${S.missNamesPerRound} new distinct names per round, once (at most ${S.missSecondsMax} s); cache ${S.cacheSize}`,
          `          full cache: --cache-size ${S.fullCacheSize}, filled with ${S.fillNames} names, then the same misses`,
          `          latency: hits at -Q ${S.latencyQps} for ${S.latencySeconds} s, from dnsperf -v (a lost query counts as slowest)`,
        ]),
    `          RSS: VmRSS of a fresh server 1 s and ${S.settleSeconds} s after one pass over N distinct names, --cache-size N; Holdfast --cache-memory ${S.unboundedCacheMemory}`,
    `          (not binding), and again with --cache-memory ${S.boundedCacheMemory}; N = ${S.memoryPoints.join(', ')}`,
    ...(results.dnsmasq && !S.memoryOnly ? [`dnsmasq:  ${dnsmasqCacheNote(results.dnsmasq.dnsmasqStartLine, S.cacheSize)}`] : []),
    ...(results.dnsmasq?.memory
      ? S.memoryPoints.map((n) => `dnsmasq:  ${dnsmasqCacheNote(results.dnsmasq.memory[`cacheNote${n}`], n)}`)
      : []),
    `figures are medians over rounds; (Nx) is the ratio to ${labels[reference]}: for QPS higher is better, for CPU, latency and RSS lower;`,
    `spread is the widest (max - min) / median over rounds among the servers: a ratio nearer 1 than that is noise`,
    '',
    renderTable(table, labels),
    '',
    `took ${seconds.toFixed(0)} s; JSON in .cache/bench/last.json`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync('.cache/bench', { recursive: true });
  const json = { date: new Date().toISOString(), machine: info, loadAverage, settings: S, labels, reference, table, results };
  writeFileSync('.cache/bench/last.json', `${JSON.stringify(json, null, 2)}\n`);
}

async function main() {
  checkTools(chosen.includes('dnsmasq'));
  if (CORES.load !== undefined) pinSelf(CORES.load);
  const artefacts = buildServers(log);
  const tmp = mkdtempSync(join(os.tmpdir(), 'holdfast-bench-'));
  tempDirs.push(tmp);
  const files = await writeQueryFiles(tmp);
  const nsd = await startNsd({ dir: tmp, zone: SETTINGS.zone, ttlSeconds: SETTINGS.ttlSeconds, cpu: CORES.load });
  try {
    if (opts['cpu-prof']) return await profileNode(opts['cpu-prof'], artefacts, files, nsd);
    const info = describeMachine(nproc, PINNING);
    const startedMs = Date.now();
    const loadBefore = os.loadavg()[0];
    const ctx = { kinds: serverKinds(artefacts), cores: CORES, settings: SETTINGS, files, log };
    const results = await runStages(chosen, ctx, nsd);
    report(info, artefacts, results, [loadBefore, os.loadavg()[0]], (Date.now() - startedMs) / 1000);
  } finally {
    await nsd.stop();
  }
}

// Only what this run started is stopped, by PID (procs.mjs keeps the list), also on ^C.
const tempDirs = [];
const removeTempDirs = () => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`bench: ${signal}, stopping`);
    killAllNow();
    removeTempDirs();
    process.exit(128 + os.constants.signals[signal]);
  });
}
process.on('exit', killAllNow);

try {
  await main();
} catch (e) {
  log(e.message);
  process.exitCode = 1;
} finally {
  await stopAll();
  removeTempDirs();
}
