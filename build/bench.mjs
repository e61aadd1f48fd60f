// `npm run bench`: Holdfast (the compiled Bun binary and the Node bundle) against dnsmasq, all
// forwarding to one NSD on loopback that serves a wildcard zone, driven by dnsperf with the same
// query lists. Prints QPS, CPU per query, latency and RSS, each as a ratio to dnsmasq, and writes
// them to .cache/bench/last.json. Then the encrypted stage: Holdfast forwarding misses over UDP,
// DNS over TLS (to unbound) and DNS over HTTPS (to dnsdist), and a TLS handshake per query
// against reused connections. Not a test: `npm test` never runs it. docs/benchmarks.md says
// how to read the figures.
//   node build/bench.mjs [--only bun,node,dnsmasq] [--quick] [--memory] [--encrypted] [--block] [--cpu-prof hits|misses]
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeNames } from './bench/dnsperf.mjs';
import { columnLabels, PROTOCOLS, REFERENCES, runEncryptedStage } from './bench/encrypted.mjs';
import { RELAY_REFERENCES, relayColumnLabels, relayRows, runRelayStage } from './bench/relay.mjs';
import { runBlockStage } from './bench/block.mjs';
import { footprintTable, runFootprintStage } from './bench/footprint.mjs';
import { measure, runStages } from './bench/measure.mjs';
import { killAllNow, pinSelf, stopAll } from './bench/procs.mjs';
import { renderTop, topFunctions } from './bench/profile.mjs';
import { encryptedRows, renderTable, tabulate } from './bench/report.mjs';
import { serverKinds, startNsd, startServer } from './bench/servers.mjs';
import { buildFloor, buildServers, checkTools, compileWithShippedFlags, describeMachine } from './bench/setup.mjs';
import { measureSizes } from './bench/sizes.mjs';
import { issueTable } from './bench/summary.mjs';

process.chdir(fileURLToPath(new URL('..', import.meta.url)));
const log = (line) => process.stderr.write(`${line}\n`);
const USAGE = `usage: node build/bench.mjs [--only bun,node,dnsmasq,floor,base] [--base EXE] [--quick] [--memory] [--encrypted] [--cpu-prof hits|misses]
  --only      servers to measure (default: all; ratios are to dnsmasq when it is among them): the Bun
              executable, the Node bundle, dnsmasq, Bun's floor (build/bench/udp-floor.ts mixed:
              hits echoed, the rest relayed) and, with --base, a previous executable; the
              encrypted stage measures the Bun binary, or the Node bundle if only it is named
  --base EXE  also measure EXE (a previous build of dist/holdfast-linux-*) in the same run
  (neither --memory nor --encrypted: the run ends with issue #11's table, from this run alone,
  also written to .cache/bench/issue11.md)
  --quick     one round, half the durations: a smoke run, not figures to quote
  --memory    only the memory stage, up to 1,000,000 cached names (about 12 minutes)
  --encrypted only the encrypted stage: DoT and DoH against UDP, reused connections against one
              per query, and the relay (batched, relay protocol v1) against UDP (about 3 minutes);
              with --memory, both
  --block     only the block-list stage: a million generated domains loaded by the Bun
              executable (RSS above the empty server, load time) and ns per lookup, each against
              a plain Set<string> (about 2 minutes)
  --footprint only the footprint stage (issue #11): RSS at start and after 100,000 names, what the
              default --cache-memory holds, and a snapshot of them written and loaded with a probe
              every 5 ms (longest wait), for the Bun executable as built, with BUN_OPTIONS=--smol,
              built with --compile-exec-argv=--smol, --base PATH (a previous executable), and
              dnsmasq (about 6 minutes)
  --cpu-prof  profile the Node server (node --cpu-prof) in the hit or miss phase and list the
              functions with the most self time, instead of the comparison`;

let opts;
try {
  opts = parseArgs({
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean' },
      memory: { type: 'boolean' },
      encrypted: { type: 'boolean' },
      block: { type: 'boolean' },
      footprint: { type: 'boolean' },
      base: { type: 'string' },
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

// floor: Bun's own floor (build/bench/udp-floor.ts mixed); base: --base PATH, a previous executable.
const SERVERS = ['bun', 'node', 'dnsmasq', 'floor', ...(opts.base ? ['base'] : [])];
const chosen = opts.only ? opts.only.split(',').map((s) => s.trim()) : SERVERS;
const usageError = !opts.footprint && chosen.find((s) => !SERVERS.includes(s))
  ? `bench: --only takes some of ${SERVERS.join(', ')}`
  : opts['cpu-prof'] !== undefined && !['hits', 'misses'].includes(opts['cpu-prof'])
    ? 'bench: --cpu-prof takes hits or misses'
    : null;
if (usageError) {
  log(`${usageError}\n${USAGE}`);
  process.exit(2);
}

if (opts.block) {
  // Alone, and first: it needs no DNS software, only the executable and Bun.
  mkdirSync('.cache/bench', { recursive: true });
  const dir = mkdtempSync(join(os.tmpdir(), 'holdfast-bench-block-'));
  try {
    const exe = `dist/holdfast-linux-${os.arch() === 'arm64' ? 'arm64' : 'x64'}`;
    const block = await runBlockStage({ dir, exe, bun: 'node_modules/.bin/bun', rounds: opts.quick ? 1 : 3, log });
    writeFileSync('.cache/bench/block.json', `${JSON.stringify(block, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

if (opts.footprint) {
  // Alone: its servers start and stop several times each, with their own flags.
  await runFootprint();
  process.exit(process.exitCode ?? 0);
}

/** --footprint: build/bench/footprint.mjs for the executable, its --smol forms, --base and dnsmasq. */
async function runFootprint() {
  mkdirSync('.cache/bench', { recursive: true });
  const dir = mkdtempSync(join(os.tmpdir(), 'holdfast-bench-footprint-'));
  const cores = (os.availableParallelism?.() ?? os.cpus().length) >= 2 ? { server: 0, load: 1 } : {};
  let nsd = null;
  try {
    if (cores.load !== undefined) pinSelf(cores.load);
    const { bunBinary } = buildServers(log);
    // The same build with --smol baked in (bun build --compile-exec-argv): a runtime flag the
    // executable then starts with, as BUN_OPTIONS=--smol does at run time.
    const smolBinary = await compileWithShippedFlags('src/main/bun.ts', '.cache/bench/holdfast-smol', ['--compile-exec-argv=--smol']);
    const zone = 'bench.test';
    const names = 100_000;
    const fill = await writeNames(join(dir, 'fill.txt'), 'r', names, zone);
    nsd = await startNsd({ dir, zone, ttlSeconds: 86_400, cpu: cores.load });
    const variants = [
      ...(opts.base ? [{ key: 'base', label: 'previous', binary: opts.base, snapshot: true }] : []),
      { key: 'bun', label: 'holdfast (bun)', binary: bunBinary, snapshot: true },
      { key: 'smolEnv', label: 'BUN_OPTIONS=--smol', binary: bunBinary, env: { BUN_OPTIONS: '--smol' } },
      { key: 'smolBaked', label: '--compile-exec-argv=--smol', binary: smolBinary, snapshot: true },
      { key: 'dnsmasq', label: 'dnsmasq', dnsmasq: true },
    ].filter((v) => !opts.only || opts.only.split(',').includes(v.key));
    const results = await runFootprintStage(
      variants,
      { cores, load: { clients: 1, outstanding: 100, timeoutSeconds: 2 }, zone, files: { fill }, dir, names, settleSeconds: opts.quick ? 3 : 10, log },
      nsd,
    );
    const table = footprintTable(results);
    process.stdout.write(`\nfootprint (${names} names; ${describeMachine(os.availableParallelism?.() ?? os.cpus().length, 'servers on core 0, load on core 1').cpuModel}):\n${table}\n`);
    writeFileSync('.cache/bench/footprint.json', `${JSON.stringify(results, null, 2)}\n`);
  } catch (e) {
    log(e.message);
    process.exitCode = 1;
  } finally {
    await stopAll();
    if (nsd) await nsd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// --memory and --encrypted each pick their stage alone; without either, every stage runs.
const runComparison = !opts.encrypted || Boolean(opts.memory);
const runEncrypted = !opts['cpu-prof'] && (Boolean(opts.encrypted) || !opts.memory);
// One Holdfast in the encrypted stage, whose columns are per connection mode, not per server.
const encryptedKind = chosen.includes('bun') ? 'bun' : chosen.includes('node') ? 'node' : null;

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
  // Misses at a steady rate (#11): fresh names each round, as many as the phase sends.
  missLatencyQps: 5_000,
  // dnsperf: one socket, 100 queries in flight (-c 1 -q 100), stragglers waited for 2 s (-t 2).
  load: { clients: 1, outstanding: 100, timeoutSeconds: 2 },
  // The encrypted stage (build/bench/encrypted.mjs).
  encrypted: {
    serverName: 'dns.bench.test',
    rounds: opts.quick ? 1 : 2,
    // Queries in flight, from dnsperf to Holdfast or from the client to the server: a busy
    // household's worth, more than Holdfast's 4 DoH connections carry at once.
    concurrency: 10,
    // Each load run: one pass over its names or this long, whichever is first.
    loadNames: 20_000,
    loadSeconds: 3 * quick,
    // One at a time, 200 ms apart: longer than the 100 ms idle close plus a reply.
    trickleQps: 5,
    trickleNames: opts.quick ? 10 : 25,
    idleCloseMs: 100,
    warmNames: 1_000,
    timeoutSeconds: 2,
  },
  // The relay stage (build/bench/relay.mjs) also takes the encrypted stage's settings.
  relay: {
    // Where batching pays: more questions in flight than the relay client's 4 connections.
    busyConcurrency: 100,
  },
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
  const missLatency = [];
  for (let round = 0; round < S.rounds; round++) {
    misses.push(await writeNames(join(dir, `misses-${round + 1}.txt`), `m${round + 1}-`, S.missNamesPerRound, S.zone));
    missLatency.push(await writeNames(join(dir, `miss-latency-${round + 1}.txt`), `l${round + 1}-`, S.missLatencyQps * S.latencySeconds, S.zone));
  }
  return {
    hits: await writeNames(join(dir, 'hits.txt'), 'h', S.hitNames, S.zone),
    misses,
    missLatency,
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

/** The comparison's and memory stage's lines: settings, notes and the table. */
function comparisonLines(artefacts, results) {
  const S = SETTINGS;
  const reference = chosen.includes('dnsmasq') ? 'dnsmasq' : chosen[0];
  const labels = Object.fromEntries(chosen.map((k) => [k, serverKinds(artefacts)[k].label]));
  const table = tabulate(results, S, reference);
  const lines = [
    `settings: zone *.${S.zone} (wildcard A, TTL ${S.ttlSeconds}), upstream NSD; dnsperf -c ${S.load.clients} -q ${S.load.outstanding} -t ${S.load.timeoutSeconds}; ${S.rounds} round(s), servers taking turns`,
    ...(S.memoryOnly
      ? []
      : [
          `          hits: ${S.hitNames} cached names looped ${S.hitSeconds} s flat out; cache ${S.cacheSize}`,
          `          misses: ${S.missNamesPerRound} new distinct names per round, once (at most ${S.missSecondsMax} s); cache ${S.cacheSize}`,
          `          full cache: --cache-size ${S.fullCacheSize}, filled with ${S.fillNames} names, then the same misses`,
          `          latency: hits at -Q ${S.latencyQps} for ${S.latencySeconds} s, from dnsperf -v (a lost query counts as slowest)`,
          `          miss latency: ${S.missLatencyQps * S.latencySeconds} new names per round at -Q ${S.missLatencyQps}, once`,
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
  ];
  return { lines, json: { labels, reference, table } };
}

/** The encrypted stage's lines: one table per protocol. */
function encryptedLines(artefacts, encrypted) {
  const S = SETTINGS;
  const E = S.encrypted;
  const holdfast = serverKinds(artefacts)[encryptedKind].label;
  const lines = [
    `encrypted: ${holdfast} forwarding never-asked names of *.${S.zone}; the TLS client's side (Holdfast or build/bench/encrypted-client.mjs) on the`,
    `          server core, the upstream on the other; ${E.rounds} round(s), columns taking turns; P-256 certificates from a throw-away CA`,
    `          load: ${E.concurrency} in flight (dnsperf -q ${E.concurrency}, or the client's ${E.concurrency} workers), each name once, at most ${E.loadSeconds} s`,
    `          one at a time: ${E.trickleNames} names at ${E.trickleQps}/s (dnsperf -q 1 -Q ${E.trickleQps}); "idle close" is Holdfast with`,
    `          encryptedUpstream.idleTimeoutMs = ${E.idleCloseMs}, so each query opens a connection; "client" columns: the bench's own node:tls client`,
    `          (reused: one pipelined DoT connection, or ${E.concurrency} keep-alive DoH connections; per query: connect, handshake, one query, close)`,
    `(Nx): holdfast tls/https to holdfast udp, idle close to holdfast tls/https, client per query to client reused`,
  ];
  const json = {};
  for (const [proto, { server, columns }] of Object.entries(encrypted)) {
    if (proto === 'relay') continue;
    const labels = columnLabels(proto, holdfast);
    const table = tabulate(columns, S, REFERENCES, encryptedRows(E));
    lines.push('', `${PROTOCOLS[proto].title} (${proto}://, ${server}; udp: the same ${server} over UDP)`, renderTable(table, labels));
    json[proto] = { server, labels, references: REFERENCES, table, results: columns };
  }
  if (encrypted.relay) {
    const labels = relayColumnLabels(holdfast);
    const table = tabulate(encrypted.relay.columns, S, RELAY_REFERENCES, relayRows(E, S.relay));
    lines.push(
      '',
      `relay (relay+http:// to holdfast relay, which asks the bench's NSD over UDP; udp: Holdfast to that NSD directly; (Nx) to udp)`,
      renderTable(table, labels),
    );
    json.relay = { labels, references: RELAY_REFERENCES, table, results: encrypted.relay.columns };
  }
  return { lines, json };
}

function report(info, artefacts, results, encrypted, loadAverage, seconds) {
  const comparison = results ? comparisonLines(artefacts, results) : null;
  const enc = encrypted ? encryptedLines(artefacts, encrypted) : null;
  const lines = [
    '',
    `machine:  ${info.nproc} cores, ${info.cpuModel}, ${info.kernel}, ${info.memoryGiB} GiB; ${info.pinning}`,
    `versions: ${Object.entries(info.versions).map(([k, v]) => `${k} ${v ?? '?'}`).join(', ')}`,
    `built:    ${artefacts.how}`,
    `load:     1-minute load average ${loadAverage[0].toFixed(2)} before, ${loadAverage[1].toFixed(2)} after (the bench itself adds about 1)`,
    ...(comparison ? comparison.lines : []),
    ...(comparison && enc ? [''] : []),
    ...(enc ? enc.lines : []),
    '',
    `took ${seconds.toFixed(0)} s; JSON in .cache/bench/last.json`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync('.cache/bench', { recursive: true });
  const json = {
    date: new Date().toISOString(),
    machine: info,
    loadAverage,
    settings: SETTINGS,
    ...(comparison ? { ...comparison.json, results } : {}),
    ...(enc ? { encrypted: enc.json } : {}),
  };
  writeFileSync('.cache/bench/last.json', `${JSON.stringify(json, null, 2)}\n`);
}

/** The footprint stage for the executable (and --base), in the comparison's run. */
async function footprintOfHoldfast(artefacts, dir, nsd) {
  const names = 100_000;
  const fill = await writeNames(join(dir, 'footprint-fill.txt'), 'r', names, SETTINGS.zone);
  const variants = [
    ...(opts.base ? [{ key: 'base', label: 'previous', binary: opts.base, snapshot: true }] : []),
    { key: 'bun', label: 'holdfast (bun)', binary: artefacts.bunBinary, snapshot: true },
  ];
  const ctx = { cores: CORES, load: SETTINGS.load, zone: SETTINGS.zone, files: { fill }, dir, names, settleSeconds: opts.quick ? 3 : 10, log };
  return runFootprintStage(variants, ctx, nsd);
}

async function main() {
  checkTools({ dnsmasq: runComparison && chosen.includes('dnsmasq'), encrypted: runEncrypted });
  if (CORES.load !== undefined) pinSelf(CORES.load);
  const artefacts = {
    ...buildServers(log),
    ...(chosen.includes('floor') ? { floorBinary: await buildFloor() } : {}),
    ...(opts.base ? { baseBinary: opts.base } : {}),
  };
  const tmp = mkdtempSync(join(os.tmpdir(), 'holdfast-bench-'));
  tempDirs.push(tmp);
  const files = runComparison || opts['cpu-prof'] ? await writeQueryFiles(tmp) : null;
  const nsd = await startNsd({ dir: tmp, zone: SETTINGS.zone, ttlSeconds: SETTINGS.ttlSeconds, cpu: CORES.load });
  try {
    if (opts['cpu-prof']) return await profileNode(opts['cpu-prof'], artefacts, files, nsd);
    const info = describeMachine(nproc, PINNING);
    const startedMs = Date.now();
    const loadBefore = os.loadavg()[0];
    const kinds = serverKinds(artefacts);
    const results = runComparison ? await runStages(chosen, { kinds, cores: CORES, settings: SETTINGS, files, log }, nsd) : null;
    // Snapshot pauses and what the default byte bound holds (build/bench/footprint.mjs), for the
    // issue #11 table below.
    const footprint = runComparison && !SETTINGS.memoryOnly && chosen.includes('bun') ? await footprintOfHoldfast(artefacts, tmp, nsd) : null;
    let encrypted = null;
    if (runEncrypted && encryptedKind) {
      const stageCtx = { holdfast: kinds[encryptedKind], cores: CORES, settings: SETTINGS, log, dir: tmp };
      // A stage that fails says why and the run goes on: the figures measured so far are kept.
      try {
        encrypted = await runEncryptedStage(stageCtx, nsd);
        encrypted.relay = await runRelayStage(stageCtx, nsd);
      } catch (e) {
        log(`${e.message}\nbench: the encrypted or relay stage failed; the other figures follow`);
        process.exitCode = 1;
      }
    } else if (runEncrypted) log('encrypted: skipped, --only names no Holdfast');
    report(info, artefacts, results, encrypted, [loadBefore, os.loadavg()[0]], (Date.now() - startedMs) / 1000);
    if (footprint) {
      const sizes = await measureSizes(artefacts);
      const table = issueTable({ results, footprint, sizes, S: SETTINGS });
      process.stdout.write(`\nissue #11 (one run; "bun floor" is build/bench/udp-floor.ts mixed, built as the executable is):\n${table.join('\n')}\n`);
      writeFileSync('.cache/bench/issue11.md', `${table.join('\n')}\n`);
    }
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
