// The encrypted stage: what DNS over TLS and over HTTPS cost Holdfast on cache misses, and what
// a TLS handshake per query costs over a reused connection. Per protocol, one upstream that
// speaks it and plain UDP too (unbound for DoT, dnsdist for DoH; encrypted-servers.mjs), with a
// throw-away CA (pki.mjs), and five columns, all sent the same never-asked names per round:
//   udp         Holdfast forwarding to that server over plain UDP: the reference;
//   reused      Holdfast over TLS/HTTPS, its default: connections kept open (30 s idle);
//   perQuery    Holdfast over TLS/HTTPS with encryptedUpstream.idleTimeoutMs at its minimum,
//               100 ms: at one query every 200 ms each query finds its connection closed and
//               opens one (its metrics count them); under load it would reuse, so it only runs
//               one at a time;
//   clientReused, clientFresh   encrypted-client.mjs in Holdfast's place, on reused connections
//               and with one fresh connection per query, at the same concurrency: the handshake's
//               cost in throughput, which Holdfast itself never pays under load.
// Phases per round: "load" (every column but perQuery; dnsperf or the client with
// `concurrency` queries in flight, each name once) and "trickle" (the Holdfast columns; one
// query at a time at `trickleQps`). Columns take turns, rotated per round.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNames, percentile } from './dnsperf.mjs';
import { startDnsdist, startUnbound } from './encrypted-servers.mjs';
import { measure, rotate, summarise } from './measure.mjs';
import { metricValue } from './metrics-text.mjs';
import { createPki } from './pki.mjs';
import { freePort, runProcess, threadCpuSeconds } from './procs.mjs';
import { startServer } from './servers.mjs';

const DOH_PATH = '/dns-query';

export const PROTOCOLS = {
  tls: {
    title: 'DNS over TLS',
    server: 'unbound',
    start: (c) => startUnbound({ dir: c.dir, pki: c.pki, zone: c.zone, ttlSeconds: c.ttlSeconds, cpu: c.cpu }),
    url: (srv, pki) => `tls://127.0.0.1:${srv.tlsPort}#${pki.serverName}`,
  },
  https: {
    title: 'DNS over HTTPS',
    server: 'dnsdist',
    start: (c) => startDnsdist({ dir: c.dir, pki: c.pki, path: DOH_PATH, nsdPort: c.nsdPort, zone: c.zone, cpu: c.cpu }),
    url: (srv, pki) => `https://127.0.0.1:${srv.tlsPort}${DOH_PATH}#${pki.serverName}`,
  },
};

export const COLUMNS = ['udp', 'reused', 'perQuery', 'clientReused', 'clientFresh'];
const LOAD_COLUMNS = ['udp', 'reused', 'clientReused', 'clientFresh'];
const TRICKLE_COLUMNS = ['udp', 'reused', 'perQuery'];
/** Each ratio's reference column: encryption against plain UDP, a handshake per query against reuse. */
export const REFERENCES = { udp: 'udp', reused: 'udp', perQuery: 'reused', clientReused: 'clientReused', clientFresh: 'clientReused' };
const FIELDS = ['qps', 'cpuUsPerQuery', 'cpuBusy', 'p50Ms', 'p90Ms', 'p99Ms', 'maxMs', 'upstreamCpuUsPerQuery', 'connectionsPerQuery', 'handshakeP50Ms', 'otherOnServerCore'];

export function columnLabels(proto, holdfastLabel) {
  return {
    udp: `${holdfastLabel} udp`,
    reused: `${holdfastLabel} ${proto}`,
    perQuery: `${proto}, idle close`,
    clientReused: `client, reused`,
    clientFresh: `client, per query`,
  };
}

async function upstreamConnections(httpPort) {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`bench: Holdfast's /metrics answered HTTP ${res.status}`);
  const n = metricValue(await res.text(), 'holdfast_upstream_connections_total');
  if (Number.isNaN(n)) throw new Error('bench: /metrics has no holdfast_upstream_connections_total');
  return n;
}

/** The name lists, per protocol: a warm-up, then per round a load list and a trickle list. */
export async function writeEncryptedNames(dir, E, rounds, zone) {
  const out = {};
  for (const proto of Object.keys(PROTOCOLS)) {
    const lists = { warm: await writeNames(join(dir, `${proto}-warm.txt`), `${proto}-w`, E.warmNames, zone), load: [], trickle: [] };
    for (let round = 1; round <= rounds; round++) {
      lists.load.push(await writeNames(join(dir, `${proto}-load-${round}.txt`), `${proto}-l${round}-`, E.loadNames, zone));
      lists.trickle.push(await writeNames(join(dir, `${proto}-trickle-${round}.txt`), `${proto}-t${round}-`, E.trickleNames, zone));
    }
    out[proto] = lists;
  }
  return out;
}

/** Holdfast forwarding to `upstream`, with /metrics on loopback; `configFile` for what has no flag. */
export async function startHoldfast(kind, { upstream, caFile, configFile, S, cpu, extraArgs = [] }) {
  const httpPort = await freePort();
  const proc = await startServer(
    {
      label: `${kind.label} -> ${upstream.split('#')[0]}${configFile ? ' (idle close)' : ''}`,
      argv: (port) => [
        ...kind.command,
        'serve',
        ...(configFile ? ['--config', configFile] : []),
        '--listen',
        `127.0.0.1:${port}`,
        '--upstream',
        upstream,
        ...(caFile ? ['--ca-file', caFile] : []),
        ...extraArgs,
        '--http',
        `127.0.0.1:${httpPort}`,
        '--cache-size',
        String(S.cacheSize),
        '--cache-memory',
        S.unboundedCacheMemory,
        '--log-format',
        'json',
        '--log-level',
        'warn',
      ],
    },
    { cacheSize: S.cacheSize, cpu, zone: S.zone },
  );
  return Object.assign(proc, { httpPort, encrypted: Boolean(caFile) });
}

export const notNoerror = (m) => m.completed - (m.rcodes?.NOERROR ?? 0);

/** One dnsperf run through Holdfast, with the upstream's CPU and the connections Holdfast opened. */
export async function holdfastRun(h, upstream, run, ctx) {
  const conns0 = h.encrypted ? await upstreamConnections(h.httpPort) : 0;
  const [own0, up0] = [threadCpuSeconds(h.pid), threadCpuSeconds(upstream.pid)];
  const m = await measure(h, { ...run, verbose: true }, { cores: ctx.cores, load: run.load });
  const [own, up] = [threadCpuSeconds(h.pid) - own0, threadCpuSeconds(upstream.pid) - up0];
  const conns = h.encrypted ? (await upstreamConnections(h.httpPort)) - conns0 : NaN;
  return {
    ...m,
    failed: notNoerror(m),
    // To the nanosecond (schedstat), not in 10 ms clock ticks: the upstream's share is small.
    cpuUsPerQuery: (own * 1e6) / m.completed,
    cpuBusy: own / m.runSeconds,
    upstreamCpuUsPerQuery: (up * 1e6) / m.completed,
    connectionsPerQuery: h.encrypted ? conns / m.completed : undefined,
  };
}

/** encrypted-client.mjs in Holdfast's place (on its core), `mode` reuse or fresh. */
async function clientRun(proto, mode, upstream, names, ctx) {
  const { settings: S, pki } = ctx;
  const E = S.encrypted;
  const argv = [
    process.execPath,
    'build/bench/encrypted-client.mjs',
    '--proto', proto,
    '--mode', mode,
    '--port', String(upstream.tlsPort),
    '--server-name', pki.serverName,
    '--ca', pki.caFile,
    '--path', DOH_PATH,
    '--names', names,
    '--warm-names', ctx.lists[proto].warm,
    '--concurrency', String(E.concurrency),
    '--seconds', String(E.loadSeconds),
    '--timeout-ms', String(E.timeoutSeconds * 1000),
    '--watch-pid', String(upstream.pid),
  ];
  // The warm-up takes at most 2 s, the run `loadSeconds`, stragglers `timeoutSeconds`.
  const r = await runProcess(argv, { cpu: ctx.cores.server, timeoutMs: (E.loadSeconds + E.timeoutSeconds + 20) * 1000 });
  let out;
  try {
    out = JSON.parse(r.stdout);
  } catch {
    throw new Error(`bench: encrypted-client.mjs failed (exit ${r.code ?? r.signal}): ${(r.stderr || r.stdout).trim().slice(-600)}`);
  }
  const l = out.latenciesMs;
  return {
    command: argv.slice(1).join(' '),
    sent: out.sent,
    completed: out.completed,
    lost: out.lost,
    failed: out.completed - (out.rcodes.NOERROR ?? 0),
    errors: out.errors,
    runSeconds: out.runSeconds,
    qps: out.qps,
    cpuUsPerQuery: (out.cpuSeconds * 1e6) / out.completed,
    cpuBusy: out.cpuSeconds / out.runSeconds,
    upstreamCpuUsPerQuery: (out.watchedCpuSeconds * 1e6) / out.completed,
    connectionsPerQuery: out.connections / out.completed,
    p50Ms: percentile(l, out.sent, 50),
    p90Ms: percentile(l, out.sent, 90),
    p99Ms: percentile(l, out.sent, 99),
    maxMs: l.reduce((a, b) => Math.max(a, b), 0),
    handshakeP50Ms: out.handshakesMs.length ? percentile(out.handshakesMs, out.handshakesMs.length, 50) : undefined,
  };
}

const fmtRun = (m) =>
  `${Math.round(m.qps).toLocaleString('en-US')} qps, p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms` +
  (m.connectionsPerQuery === undefined ? '' : `, ${m.connectionsPerQuery.toFixed(2)} connections/query`);

/** One protocol: its server, three Holdfasts, the rounds. Returns { server, columns: { column: { rounds, load, trickle, lost } } }. */
async function runProtocol(proto, ctx, nsd) {
  const { settings: S, log, cores, pki } = ctx;
  const E = S.encrypted;
  const P = PROTOCOLS[proto];
  const lists = ctx.lists[proto];
  const results = Object.fromEntries(COLUMNS.map((c) => [c, { rounds: { load: [], trickle: [] }, lost: 0 }]));
  const take = (col, phase, m) => {
    results[col].lost += m.lost + m.failed;
    if (m.otherOnServerCore !== undefined) results[col].otherOnServerCore = Math.max(results[col].otherOnServerCore ?? 0, m.otherOnServerCore);
    results[col].rounds[phase].push(m);
    return m;
  };
  const upstream = await P.start({ dir: ctx.dir, pki, zone: S.zone, ttlSeconds: S.ttlSeconds, nsdPort: nsd.port, cpu: cores.load });
  const hf = {};
  try {
    const url = P.url(upstream, pki);
    const base = { S, cpu: cores.server };
    hf.udp = await startHoldfast(ctx.holdfast, { ...base, upstream: `udp://127.0.0.1:${upstream.udpPort}` });
    hf.reused = await startHoldfast(ctx.holdfast, { ...base, upstream: url, caFile: pki.caFile });
    hf.perQuery = await startHoldfast(ctx.holdfast, { ...base, upstream: url, caFile: pki.caFile, configFile: ctx.idleCloseConfig });
    const loadRun = { once: true, seconds: E.loadSeconds, load: { clients: 1, outstanding: E.concurrency, timeoutSeconds: E.timeoutSeconds } };
    // One at a time at a fixed rate; dnsperf stops sending at -l, so it is the list's length plus 2 s.
    const trickleRun = {
      once: true,
      qps: E.trickleQps,
      seconds: Math.ceil(E.trickleNames / E.trickleQps) + 2,
      load: { clients: 1, outstanding: 1, timeoutSeconds: E.timeoutSeconds },
    };
    // Warm-up: JIT, and the encrypted ones' connections. A refused certificate shows here as SERVFAIL.
    for (const [col, h] of Object.entries(hf)) {
      const m = await measure(h, { file: lists.warm, once: true, seconds: 10 }, { cores, load: loadRun.load });
      if (notNoerror(m) > 0 || m.completed === 0) {
        throw new Error(`bench: ${h.name} answered ${JSON.stringify(m.rcodes)} to ${m.sent} warm-up queries (${col}; output: ${h.output().trim().slice(-600)})`);
      }
    }
    for (let round = 0; round < E.rounds; round++) {
      for (const col of rotate(LOAD_COLUMNS, round)) {
        const names = lists.load[round];
        const m =
          col === 'clientReused' || col === 'clientFresh'
            ? await clientRun(proto, col === 'clientReused' ? 'reuse' : 'fresh', upstream, names, ctx)
            : await holdfastRun(hf[col], upstream, { ...loadRun, file: names }, ctx);
        take(col, 'load', m);
        log(`  ${proto} round ${round + 1} ${col}: ${E.concurrency} in flight, ${fmtRun(m)}${m.errors && Object.keys(m.errors).length ? `; errors ${JSON.stringify(m.errors)}` : ''}`);
      }
      for (const col of rotate(TRICKLE_COLUMNS, round)) {
        const m = take(col, 'trickle', await holdfastRun(hf[col], upstream, { ...trickleRun, file: lists.trickle[round] }, ctx));
        log(`  ${proto} round ${round + 1} ${col}: one at a time at ${E.trickleQps}/s, ${fmtRun(m)}`);
      }
    }
  } finally {
    await Promise.all(Object.values(hf).map((h) => h.stop()));
    await upstream.stop();
  }
  for (const col of COLUMNS) {
    const r = results[col];
    r.load = summarise(r.rounds.load, FIELDS);
    r.trickle = summarise(r.rounds.trickle, FIELDS);
  }
  return { server: P.server, columns: results };
}

/**
 * The whole stage. ctx: { holdfast (a server kind with `command`), cores, settings, log, dir }.
 * Returns { tls, https }, each as runProtocol returns it.
 */
export async function runEncryptedStage(ctx, nsd) {
  const { settings: S, log, dir } = ctx;
  const E = S.encrypted;
  const pkiDir = join(dir, 'pki');
  mkdirSync(pkiDir, { recursive: true });
  const pki = createPki(pkiDir, E.serverName);
  const idleCloseConfig = join(dir, 'idle-close.toml');
  writeFileSync(idleCloseConfig, `[encryptedUpstream]\nidleTimeoutMs = ${E.idleCloseMs}\n`);
  const lists = await writeEncryptedNames(dir, E, E.rounds, S.zone);
  const c = { ...ctx, pki, idleCloseConfig, lists };
  const out = {};
  for (const proto of Object.keys(PROTOCOLS)) {
    log(`encrypted: ${PROTOCOLS[proto].title} through ${PROTOCOLS[proto].server}, ${E.rounds} round(s)`);
    out[proto] = await runProtocol(proto, c, nsd);
  }
  return out;
}
