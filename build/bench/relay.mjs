// The relay stage: what batching misses through a relay (relay protocol v1, docs/relay.md)
// costs and saves. Holdfast forwards never-asked names three ways, to the same NSD:
//   udp       directly over UDP: the reference;
//   relay     relay+http:// to `holdfast relay` (the same build) that asks NSD over UDP, with
//             the default 3 ms batching window;
//   noWindow  the same with relayUpstream.batchWindowMs = 0: a batch is what arrives in one turn
//             of the event loop.
// Phases per round: "load" and "busy" (dnsperf with `concurrency` and `busyConcurrency` queries
// in flight, each name once) and "trickle" (one at a time). The relay is plain HTTP on loopback,
// so the figures are the protocol's and the batching's cost, not TLS's (the encrypted stage has those).
import { join } from 'node:path';
import { writeNames } from './dnsperf.mjs';
import { holdfastRun, notNoerror, startHoldfast } from './encrypted.mjs';
import { accepting } from './encrypted-servers.mjs';
import { measure, rotate, summarise } from './measure.mjs';
import { metricValue } from './metrics-text.mjs';
import { freePort, startProcess } from './procs.mjs';

export const RELAY_COLUMNS = ['udp', 'relay', 'noWindow'];
/** Every relay column against plain UDP. */
export const RELAY_REFERENCES = { udp: 'udp', relay: 'udp', noWindow: 'udp' };
const FIELDS = ['qps', 'cpuUsPerQuery', 'cpuBusy', 'p50Ms', 'p90Ms', 'p99Ms', 'maxMs', 'upstreamCpuUsPerQuery', 'itemsPerBatch'];

export function relayColumnLabels(holdfastLabel) {
  return { udp: `${holdfastLabel} udp`, relay: 'relay, 3 ms window', noWindow: 'relay, no window' };
}

/** `holdfast relay` on a free port, resolving through NSD, pinned to `cpu`. */
async function startRelay(kind, nsdPort, cpu) {
  let last = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    // No rate limit: every column's Holdfast comes from 127.0.0.1, so under the default (a
    // burst of 1,000 items, then 200/s per client address) the second column's warm-up was
    // refused items the first had used up (rate_limited), as NSD's RRL would look like loss.
    const argv = [...kind.command, 'relay', '--listen', `127.0.0.1:${port}`, '--upstream', `udp://127.0.0.1:${nsdPort}`, '--relay-rate-limit', '0', '--log-level', 'warn'];
    const proc = startProcess(`${kind.label} relay`, argv, { cpu });
    for (let i = 0; i < 150 && !proc.done; i++) {
      if (await accepting(port)) return Object.assign(proc, { port });
      await new Promise((r) => setTimeout(r, 20));
    }
    await proc.stop(1000);
    last = proc.output();
  }
  throw new Error(`bench: holdfast relay did not start (last output: ${last.trim().slice(-600) || 'none'})`);
}

async function relayCounters(httpPort) {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  return { batches: metricValue(text, 'holdfast_relay_batches_total'), items: metricValue(text, 'holdfast_relay_items_total') };
}

/** holdfastRun, plus the questions per relay request over the run. */
async function relayRun(h, upstream, run, ctx) {
  const before = h.relay ? await relayCounters(h.httpPort) : null;
  const m = await holdfastRun(h, upstream, run, ctx);
  // NSD answers from a child process, not the one whose CPU is read: no figure beats a wrong one.
  if (!before) return { ...m, upstreamCpuUsPerQuery: undefined };
  const after = await relayCounters(h.httpPort);
  const batches = after.batches - before.batches;
  return { ...m, itemsPerBatch: batches > 0 ? (after.items - before.items) / batches : undefined };
}

const fmtRun = (m) =>
  `${Math.round(m.qps).toLocaleString('en-US')} qps, p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms` +
  (m.itemsPerBatch === undefined ? '' : `, ${m.itemsPerBatch.toFixed(1)} questions/request`);

/**
 * The stage. ctx as for the encrypted stage: { holdfast, cores, settings, log, dir }; `nsd` the
 * bench's NSD. Returns { columns: { column: { load, busy, trickle, lost } } }.
 */
export async function runRelayStage(ctx, nsd) {
  const { settings: S, log, cores, dir } = ctx;
  const E = S.encrypted;
  const R = S.relay;
  const results = Object.fromEntries(RELAY_COLUMNS.map((c) => [c, { rounds: { load: [], busy: [], trickle: [] }, lost: 0 }]));
  const lists = { warm: await writeNames(join(dir, 'relay-warm.txt'), 'relay-w', E.warmNames, S.zone), load: [], busy: [], trickle: [] };
  for (let round = 1; round <= E.rounds; round++) {
    lists.load.push(await writeNames(join(dir, `relay-load-${round}.txt`), `relay-l${round}-`, E.loadNames, S.zone));
    lists.busy.push(await writeNames(join(dir, `relay-busy-${round}.txt`), `relay-b${round}-`, E.loadNames, S.zone));
    lists.trickle.push(await writeNames(join(dir, `relay-trickle-${round}.txt`), `relay-t${round}-`, E.trickleNames, S.zone));
  }
  log(`relay: ${E.rounds} round(s), holdfast relay between Holdfast and NSD`);
  const relay = await startRelay(ctx.holdfast, nsd.port, cores.load);
  const hf = {};
  try {
    const base = { S, cpu: cores.server };
    const url = `relay+http://127.0.0.1:${relay.port}`;
    hf.udp = await startHoldfast(ctx.holdfast, { ...base, upstream: `udp://127.0.0.1:${nsd.port}` });
    hf.relay = Object.assign(await startHoldfast(ctx.holdfast, { ...base, upstream: url }), { relay: true });
    hf.noWindow = Object.assign(await startHoldfast(ctx.holdfast, { ...base, upstream: url, extraArgs: ['--relay-batch-ms', '0'] }), { relay: true });
    // The udp column's "upstream" is NSD itself; the relay columns' is the relay process.
    const upstreamOf = (col) => (col === 'udp' ? nsd : relay);
    const phases = {
      load: { once: true, seconds: E.loadSeconds, load: { clients: 1, outstanding: E.concurrency, timeoutSeconds: E.timeoutSeconds } },
      busy: { once: true, seconds: E.loadSeconds, load: { clients: 1, outstanding: R.busyConcurrency, timeoutSeconds: E.timeoutSeconds } },
      trickle: { once: true, qps: E.trickleQps, seconds: Math.ceil(E.trickleNames / E.trickleQps) + 2, load: { clients: 1, outstanding: 1, timeoutSeconds: E.timeoutSeconds } },
    };
    for (const [col, h] of Object.entries(hf)) {
      const m = await measure(h, { file: lists.warm, once: true, seconds: 10 }, { cores, load: phases.load.load });
      if (notNoerror(m) > 0 || m.completed === 0) throw new Error(`bench: ${h.name} answered ${JSON.stringify(m.rcodes)} to ${m.sent} warm-up queries (${col})`);
    }
    for (let round = 0; round < E.rounds; round++) {
      for (const phase of ['load', 'busy', 'trickle']) {
        for (const col of rotate(RELAY_COLUMNS, round)) {
          const m = await relayRun(hf[col], upstreamOf(col), { ...phases[phase], file: lists[phase][round] }, ctx);
          results[col].lost += m.lost + m.failed;
          results[col].rounds[phase].push(m);
          log(`  relay round ${round + 1} ${phase} ${col}: ${phases[phase].load.outstanding} in flight, ${fmtRun(m)}`);
        }
      }
    }
  } finally {
    await Promise.all(Object.values(hf).map((h) => h.stop()));
    await relay.stop();
  }
  for (const col of RELAY_COLUMNS) {
    const r = results[col];
    for (const phase of ['load', 'busy', 'trickle']) r[phase] = summarise(r.rounds[phase], FIELDS);
  }
  return { columns: results };
}

/** The relay table's rows. */
export function relayRows(E, R) {
  const load = `misses, ${E.concurrency} in flight`;
  const busy = `misses, ${R.busyConcurrency} in flight`;
  const one = `misses one at a time, ${E.trickleQps}/s`;
  return [
    [`${load}: QPS`, 'load', 'qps', 1, 'qps'],
    [`${load}: p50 latency (ms)`, 'load', 'p50Ms', 1, 'ms'],
    [`${load}: p99 latency (ms)`, 'load', 'p99Ms', 1, 'ms'],
    [`${load}: CPU/query, Holdfast (µs)`, 'load', 'cpuUsPerQuery', 1, 'us'],
    [`${load}: CPU/query, relay or NSD (µs)`, 'load', 'upstreamCpuUsPerQuery', 1, 'us'],
    [`${load}: questions per request`, 'load', 'itemsPerBatch', 1, 'conn'],
    [`${busy}: QPS`, 'busy', 'qps', 1, 'qps'],
    [`${busy}: p50 latency (ms)`, 'busy', 'p50Ms', 1, 'ms'],
    [`${busy}: p99 latency (ms)`, 'busy', 'p99Ms', 1, 'ms'],
    [`${busy}: CPU/query, Holdfast (µs)`, 'busy', 'cpuUsPerQuery', 1, 'us'],
    [`${busy}: questions per request`, 'busy', 'itemsPerBatch', 1, 'conn'],
    [`${one}: p50 latency (ms)`, 'trickle', 'p50Ms', 1, 'ms'],
    [`${one}: slowest of ${E.trickleNames} (ms)`, 'trickle', 'maxMs', 1, 'ms'],
    ['queries lost or not NOERROR (all phases)', null, 'lost', 1, 'count'],
  ];
}
