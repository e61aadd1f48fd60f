// `npm run bench:lossy`: Holdfast, dnsmasq and unbound side by side behind one real lossy,
// delayed uplink to NSD (two network namespaces, nftables loss, an 80 ms round trip; see
// build/bench/netns.mjs), with a client that sends each query exactly once. For 0%, 10% and 30%
// loss each way, and for a full outage after a warm-up, it prints the share of queries answered
// right and the latency percentiles, and writes them to .cache/bench/lossy.json. Needs root.
// Not a test: `npm test` never runs it. docs/benchmarks.md ("Lossy link") describes the method.
// Each server asks the upstream on its own port, so the packets it sends upstream are counted
// (nftables, before loss) and shown per client query and per question that reached the upstream.
//   node build/bench-lossy.mjs [--only holdfast,dnsmasq,unbound,dnsmasq-plain,holdfast-relay] [--baseline PATH] [--quick] [--seconds N] [--qps N]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LOSSY_SERVERS, startUpstream } from './bench/lossy-servers.mjs';
import { buildZone, renderTable, schedule, summarise } from './bench/lossy-workload.mjs';
import { createLossyLink, lossyLinkUnavailable, sendQueries } from './bench/netns.mjs';

process.chdir(fileURLToPath(new URL('..', import.meta.url)));
const log = (line) => process.stderr.write(`${line}\n`);
const USAGE = `usage: node build/bench-lossy.mjs [--only holdfast,dnsmasq,unbound,dnsmasq-plain,holdfast-relay] [--baseline PATH] [--quick] [--seconds N] [--qps N]
  --only     servers to measure (default holdfast,dnsmasq,unbound; also dnsmasq-plain: dnsmasq
             without --fast-dns-retry, as most installations run it; and holdfast-relay: Holdfast
             asking holdfast relay beside NSD, in batches over HTTP/1.1 across the same link)
  --baseline another Holdfast executable (say, one built from the last commit) measured beside
             the others in the same run, as "holdfast (baseline)"
  --quick    12 s phases: checks the bench works; not figures to quote
  --seconds  length of each measured phase (default 40)
  --qps      queries a second each server gets (default 100)`;

let opts;
try {
  opts = parseArgs({
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean' },
      seconds: { type: 'string' },
      qps: { type: 'string' },
      baseline: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (e) {
  log(`bench:lossy: ${e.message}\n${USAGE}`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const SERVERS = Object.keys(LOSSY_SERVERS);
const chosen = opts.only ? opts.only.split(',').map((s) => s.trim()) : SERVERS.filter((k) => !LOSSY_SERVERS[k].optional);
if (opts.baseline && !chosen.includes('holdfast-baseline')) chosen.splice(chosen.indexOf('holdfast') + 1, 0, 'holdfast-baseline');
const wholeNumber = (text, min, max) => (text === undefined ? undefined : /^\d+$/.test(text) && +text >= min && +text <= max ? +text : NaN);
const seconds = wholeNumber(opts.seconds, 5, 600);
const qps = wholeNumber(opts.qps, 1, 1000);
const usageError = chosen.includes('holdfast-baseline') && !(opts.baseline && existsSync(opts.baseline))
  ? '--baseline takes the path of a Holdfast executable (and holdfast-baseline needs it)'
  : chosen.some((s) => !SERVERS.includes(s)) || chosen.length === 0
  ? `--only takes some of ${SERVERS.join(', ')}`
  : Number.isNaN(seconds)
    ? '--seconds takes a whole number from 5 to 600'
    : Number.isNaN(qps)
      ? '--qps takes a whole number from 1 to 1000'
      : null;
if (usageError) {
  log(`bench:lossy: ${usageError}\n${USAGE}`);
  process.exit(2);
}

const phaseSeconds = seconds ?? (opts.quick ? 12 : 40);
const SETTINGS = {
  zone: 'lossy.test',
  names: 400,
  ttlMinSeconds: 5,
  ttlMaxSeconds: 30,
  // 1 / rank: the most popular name gets about 15% of queries, half the names 1 in 1,000 or fewer.
  zipfExponent: 1,
  qps: qps ?? 100,
  phaseSeconds,
  // The outage phase: warm the caches on a clean link, cut it, then restore it.
  warmupSeconds: Math.max(5, Math.round(phaseSeconds / 2)),
  recoverySeconds: Math.max(5, Math.round(phaseSeconds / 2)),
  // One way; the relay holds each packet this long in each direction.
  delayMs: 40,
  // A query not answered by then is unanswered; the client never retries.
  clientTimeoutMs: 5000,
  cacheSize: 10_000,
  losses: [0, 10, 30],
  seed: 0x5eed,
};

/** The Holdfast to run: the Bun executable if it builds, else the Node bundle. */
function holdfastCommand() {
  const target = `linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`;
  const r = spawnSync(process.execPath, ['build/build.mjs', '--if-stale', 'bundle', target], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) log(`bench:lossy: build/build.mjs failed (${(r.stderr || r.stdout || '').trim().slice(-300)}); using what dist/ has`);
  if (existsSync(`dist/holdfast-${target}`)) return { argv: [`dist/holdfast-${target}`], label: `dist/holdfast-${target} (Bun executable)` };
  if (existsSync('dist/holdfast.mjs')) return { argv: [process.execPath, 'dist/holdfast.mjs'], label: 'node dist/holdfast.mjs' };
  throw new Error('bench:lossy: no dist/holdfast-* nor dist/holdfast.mjs (run node build/build.mjs)');
}

function checkTools() {
  const unavailable = lossyLinkUnavailable();
  if (unavailable) throw new Error(`bench:lossy: the lossy link ${unavailable}`);
  const needed = [
    ['nsd', ['-v'], 'nsd'],
    ...(chosen.some((k) => k.startsWith('dnsmasq')) ? [['dnsmasq', ['--version'], 'dnsmasq-base']] : []),
    ...(chosen.includes('unbound') ? [['unbound', ['-V'], 'unbound']] : []),
  ];
  for (const [cmd, args, pkg] of needed) {
    if (spawnSync(cmd, args, { stdio: 'ignore' }).error) throw new Error(`bench:lossy: ${cmd} not found (apt-get install ${pkg})`);
  }
}

function versions(holdfast) {
  const first = (cmd, args, re) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return r.error ? null : (re.exec(`${r.stdout}\n${r.stderr}`)?.[1] ?? null);
  };
  const git = (args) => spawnSync('git', args, { encoding: 'utf8' }).stdout?.trim() ?? '';
  return {
    holdfast: `${JSON.parse(readFileSync('package.json', 'utf8')).version} (${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', 'src']) ? ', src/ modified' : ''}), ${holdfast.label}`,
    dnsmasq: first('dnsmasq', ['--version'], /version (\S+)/i),
    unbound: first('unbound', ['-V'], /Version (\S+)/),
    nsd: first('nsd', ['-v'], /version (\S+)/i),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
  };
}

/** Starts the chosen servers (on a clean link), runs `body(servers)`, and stops them. */
async function withServers(link, ctx, body) {
  link.setLoss({ toUpstream: 0, toHost: 0 });
  const servers = [];
  try {
    for (const key of chosen) {
      const c = { ...ctx, upstreamAddress: `${link.upstreamAddress}:${LOSSY_SERVERS[key].upstreamPort}` };
      servers.push({ key, label: LOSSY_SERVERS[key].label, proc: await LOSSY_SERVERS[key].start(link, c) });
    }
    return await body(servers);
  } finally {
    for (const s of servers) await s.proc.stop();
  }
}

/** Indexes of the queries that are the first for their name. */
function firstAsks(queries) {
  const seen = new Set();
  const first = new Set();
  queries.forEach(([, name], i) => {
    if (!seen.has(name)) first.add(i);
    seen.add(name);
  });
  return first;
}

/** What each server has sent upstream so far: packets (counted before loss) and questions that reached it. */
function upstreamCounts(link, statsFile) {
  const sent = link.sentPackets();
  let reached = {};
  try {
    reached = JSON.parse(readFileSync(statsFile, 'utf8'));
  } catch {
    // Nothing has reached the relay yet.
  }
  return Object.fromEntries(chosen.map((k) => {
    const port = LOSSY_SERVERS[k].upstreamPort;
    return [k, { packets: sent[port] ?? 0, questions: reached[port]?.questions ?? null }];
  }));
}

/** The upstream traffic of a phase: counts after minus counts before, by server key. */
function upstreamDelta(before, after) {
  return Object.fromEntries(
    Object.keys(after).map((k) => [k, { packets: after[k].packets - before[k].packets, questions: after[k].questions === null ? null : after[k].questions - (before[k].questions ?? 0) }]),
  );
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every server's client at once, the same queries for each; results by server key. */
async function runClients(link, servers, queries, dir, tag) {
  const all = await Promise.all(
    servers.map((s) =>
      sendQueries(link, { server: `127.0.0.1:${s.proc.port}`, timeoutMs: SETTINGS.clientTimeoutMs, queries, dir, label: `${tag}-${s.key}` }),
    ),
  );
  return Object.fromEntries(servers.map((s, i) => [s.key, all[i]]));
}

async function main() {
  checkTools();
  const holdfast = holdfastCommand();
  const S = SETTINGS;
  const zone = buildZone({ zone: S.zone, count: S.names, ttlMinSeconds: S.ttlMinSeconds, ttlMaxSeconds: S.ttlMaxSeconds, seed: S.seed });
  const link = createLossyLink({ tag: 'hfl' });
  const dir = mkdtempSync(join(os.tmpdir(), 'holdfast-bench-lossy-'));
  const statsFile = join(dir, 'relay-stats.json');
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const rows = [];
  const phases = {};
  const started = Date.now();
  const loadBefore = os.loadavg()[0];
  const record = (key, label, loss, results, servers, upstream = null) => {
    phases[key] = { label, lossPercent: loss, servers: {} };
    for (const s of servers) {
      const summary = summarise(results[s.key], upstream?.[s.key]);
      phases[key].servers[s.key] = summary;
      rows.push({ phase: label, label: s.label, s: summary });
    }
  };
  let upstream;
  try {
    upstream = await startUpstream(link, { dir, zone: S.zone, zoneText: zone.text, delayMs: S.delayMs, statsFile });
    link.countSent(chosen.map((k) => LOSSY_SERVERS[k].upstreamPort));
    const ctx = { dir, zone: S.zone, cacheSize: S.cacheSize, holdfastCommand: holdfast.argv, baselineCommand: opts.baseline ? [opts.baseline] : null, delayMs: S.delayMs };
    const estimate = S.losses.length * S.phaseSeconds + S.warmupSeconds + S.phaseSeconds + S.recoverySeconds;
    log(`bench:lossy: ${chosen.join(', ')}; about ${Math.round(estimate * 1.1)} s`);

    for (const [i, loss] of S.losses.entries()) {
      const queries = schedule({ entries: zone.entries, qps: S.qps, seconds: S.phaseSeconds, exponent: S.zipfExponent, seed: S.seed + 1 + i });
      await withServers(link, ctx, async (servers) => {
        link.setLoss({ toUpstream: loss, toHost: loss });
        log(`  ${loss}% loss each way: ${queries.length} queries to each server`);
        const before = upstreamCounts(link, statsFile);
        const results = await runClients(link, servers, queries, dir, `loss${loss}`);
        // The clients wait out their last query's timeout, so every copy has been sent; the
        // relay writes its counts every 200 ms.
        await sleep(500);
        record(`loss${loss}`, `${loss}% loss`, loss, results, servers, upstreamDelta(before, upstreamCounts(link, statsFile)));
        // The first query for each name in the phase: a cache miss for every server (they
        // start empty), so this row is the upstream path alone.
        const first = firstAsks(queries);
        const firstOnly = Object.fromEntries(servers.map((s) => [s.key, results[s.key].filter((_, q) => first.has(q))]));
        record(`loss${loss}FirstAsks`, `${loss}% loss, first asks`, loss, firstOnly, servers);
      });
    }

    await withServers(link, ctx, async (servers) => {
      const seed = S.seed + 100;
      const warm = schedule({ entries: zone.entries, qps: S.qps, seconds: S.warmupSeconds, exponent: S.zipfExponent, seed });
      const cut = schedule({ entries: zone.entries, qps: S.qps, seconds: S.phaseSeconds, exponent: S.zipfExponent, seed: seed + 1 });
      const back = schedule({ entries: zone.entries, qps: S.qps, seconds: S.recoverySeconds, exponent: S.zipfExponent, seed: seed + 2 });
      log(`  outage: ${warm.length} queries on a clean link, ${cut.length} with the link cut, ${back.length} after`);
      const warmResults = await runClients(link, servers, warm, dir, 'warmup');
      record('warmup', 'warm-up (0%)', 0, warmResults, servers);
      link.setLoss({ toUpstream: 100, toHost: 100 });
      const cutResults = await runClients(link, servers, cut, dir, 'outage');
      record('outage', 'outage (100%)', 100, cutResults, servers);
      // Only names a server answered during the warm-up can be answered from its cache.
      const warmOnly = Object.fromEntries(
        servers.map((s) => {
          const had = new Set(warmResults[s.key].filter((r) => r.ok).map((r) => r.name));
          return [s.key, cutResults[s.key].filter((r) => had.has(r.name))];
        }),
      );
      record('outageWarmNames', 'outage, warm names', 100, warmOnly, servers);
      link.setLoss({ toUpstream: 0, toHost: 0 });
      record('recovery', 'after outage (0%)', 0, await runClients(link, servers, back, dir, 'recovery'), servers);
    });
  } finally {
    await upstream?.relay.stop();
    await upstream?.nsd.stop();
    link.destroy();
    rmSync(dir, { recursive: true, force: true });
  }

  const info = versions(holdfast);
  const took = (Date.now() - started) / 1000;
  const lines = [
    '',
    `machine:  ${os.availableParallelism?.() ?? os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown'}, ${info.kernel}; load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after`,
    `versions: ${Object.entries(info).filter(([k]) => k !== 'kernel').map(([k, v]) => `${k} ${v ?? '?'}`).join('; ')}`,
    `link:     veth between two network namespaces, ${2 * S.delayMs} ms round trip (relay, ${S.delayMs} ms each way), loss by nftables at each receiving end, the same share each way`,
    `workload: ${S.names} names in ${S.zone}, TTL ${S.ttlMinSeconds}-${S.ttlMaxSeconds} s; ${S.qps} queries/s to each server, names drawn with P ~ 1/rank^${S.zipfExponent}; each query sent once, unanswered after ${S.clientTimeoutMs} ms`,
    `phases:   ${S.phaseSeconds} s each, fresh servers per loss level; outage: ${S.warmupSeconds} s warm-up, ${S.phaseSeconds} s cut, ${S.recoverySeconds} s restored, same servers throughout`,
    `right:    NOERROR with the zone's address; latency: time to a right answer, over all queries sent ("-": that percentile has no right answer)`,
    `upstream: packets each server sent to the upstream (UDP and TCP, counted before loss), per client query and per question that reached the upstream (its copies counted once)`,
    '',
    renderTable(rows),
    '',
    `took ${took.toFixed(0)} s; JSON in .cache/bench/lossy.json`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync('.cache/bench', { recursive: true });
  const json = { date: new Date().toISOString(), versions: info, settings: S, servers: Object.fromEntries(chosen.map((k) => [k, LOSSY_SERVERS[k].label])), phases };
  writeFileSync('.cache/bench/lossy.json', `${JSON.stringify(json, (_, v) => (v === Infinity ? 'none' : v), 2)}\n`);
}

// Processes and namespaces are cleaned up by build/bench/netns.mjs's exit hook, also on ^C.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`bench:lossy: ${signal}, stopping`);
    process.exit(128 + os.constants.signals[signal]);
  });
}

try {
  await main();
} catch (e) {
  log(e.message);
  process.exitCode = 1;
}
