// The bench's table: one row per figure, one column per server, each cell also as a ratio to
// dnsmasq (the reference column), and a last column saying how much the figure moved between
// rounds: a ratio closer to 1 than that spread is not a difference.

const MiB = 1024;

const countLabel = (n) => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1_000}k`);

/** The rows printed, in order: label, phase (a summary over rounds; null: the server's totals), field, scale, unit. */
export function rows(S) {
  const throughput = [
    ['hits: QPS (flat out)', 'hits', 'qps', 1, 'qps'],
    ['hits: CPU per query (µs)', 'hits', 'cpuUsPerQuery', 1, 'us'],
    ['hits: server core busy (%)', 'hits', 'cpuBusy', 100, 'pct'],
    ['misses: QPS', 'misses', 'qps', 1, 'qps'],
    ['misses: CPU per query (µs)', 'misses', 'cpuUsPerQuery', 1, 'us'],
    [`misses, full cache (${S.fullCacheSize}): QPS`, 'fullMisses', 'qps', 1, 'qps'],
    ['misses, full cache: CPU/query (µs)', 'fullMisses', 'cpuUsPerQuery', 1, 'us'],
    [`hits at ${S.latencyQps}/s: p50 latency (ms)`, 'latency', 'p50Ms', 1, 'ms'],
    [`hits at ${S.latencyQps}/s: p99 latency (ms)`, 'latency', 'p99Ms', 1, 'ms'],
    [`misses at ${S.missLatencyQps}/s: p50 latency (ms)`, 'missLatency', 'p50Ms', 1, 'ms'],
    [`misses at ${S.missLatencyQps}/s: p90 latency (ms)`, 'missLatency', 'p90Ms', 1, 'ms'],
    [`misses at ${S.missLatencyQps}/s: p99 latency (ms)`, 'missLatency', 'p99Ms', 1, 'ms'],
    [`misses at ${S.missLatencyQps}/s: CPU per query (µs)`, 'missLatency', 'cpuUsPerQuery', 1, 'us'],
  ];
  const memory = [
    ['RSS at start (MiB)', 'memory', 'startKiB', 1 / MiB, 'mib'],
    ...S.memoryPoints.flatMap((n) => [
      [`RSS 1 s after ${countLabel(n)} names (MiB)`, 'memory', `rss${n}`, 1 / MiB, 'mib'],
      [`RSS ${S.settleSeconds} s after ${countLabel(n)} names (MiB)`, 'memory', `rss${n}Settled`, 1 / MiB, 'mib'],
    ]),
    // dnsmasq has no byte bound: these rows have no reference, hence no ratio.
    ...S.memoryPoints.flatMap((n) => [
      [`RSS 1 s after ${countLabel(n)}, --cache-memory ${S.boundedCacheMemory} (MiB)`, 'memory', `bounded${n}`, 1 / MiB, 'mib'],
      [`RSS ${S.settleSeconds} s after ${countLabel(n)}, --cache-memory ${S.boundedCacheMemory} (MiB)`, 'memory', `bounded${n}Settled`, 1 / MiB, 'mib'],
    ]),
  ];
  return [
    ...(S.memoryOnly ? [] : throughput),
    ...memory,
    ['queries lost (all phases)', null, 'lost', 1, 'count'],
    // Noise: other processes (or the hypervisor) on the server's core during its worst run.
    ['other load on server core, worst run (%)', null, 'otherOnServerCore', 100, 'noise'],
  ];
}

function fmt(value, unit) {
  if (value === undefined || value === null || Number.isNaN(value)) return '-';
  if (value === Infinity) return 'lost';
  switch (unit) {
    case 'qps':
    case 'count':
      return Math.round(value).toLocaleString('en-US');
    case 'us':
      return value.toFixed(1);
    case 'conn':
      return value.toFixed(2);
    case 'ms':
      return value.toFixed(3);
    case 'pct':
    case 'noise':
      return value.toFixed(0);
    default:
      return value.toFixed(1);
  }
}

const ratioOf = (value, reference) => (Number.isFinite(value) && Number.isFinite(reference) && reference !== 0 ? value / reference : null);

/** Units whose ratio and spread say nothing: counts, noise, and shares near 0 (connections per query). */
const NO_RATIO = new Set(['count', 'noise', 'conn']);

/**
 * The figures as { label, unit, spreadPct, cells: { server: { value, text, ratio } } }.
 * spreadPct: the largest (max - min) / median over rounds among the servers, for that figure.
 * `reference` is the column every ratio is to, or an object naming each column's own.
 */
export function tabulate(results, S, reference, rowList = rows(S)) {
  const referenceOf = (server) => (typeof reference === 'string' ? reference : reference[server]);
  return rowList.map(([label, phase, field, scale, unit]) => {
    const read = (r) => (phase ? r[phase]?.[field] : r[field]);
    /** @type {Record<string, { value: number | string | null, text: string, ratio: number | null }>} */
    const cells = {};
    let spreadPct = null;
    for (const [server, r] of Object.entries(results)) {
      const raw = read(r);
      const value = raw === undefined ? undefined : raw * scale;
      const refResults = results[referenceOf(server)];
      const ratio = NO_RATIO.has(unit) || !refResults ? null : ratioOf(raw, read(refResults));
      cells[server] = { value: value === Infinity ? 'lost' : Number.isFinite(value) ? value : null, text: fmt(value, unit), ratio };
      const range = phase && !NO_RATIO.has(unit) && r[phase]?.spread?.[field];
      if (range && r[phase].rounds > 1 && Number.isFinite(raw) && raw !== 0) {
        const pct = (100 * (range[1] - range[0])) / raw;
        spreadPct = Math.max(spreadPct ?? 0, Number.isFinite(pct) ? pct : Infinity);
      }
    }
    return { label, unit, spreadPct, cells };
  });
}

/** Fixed-width text table. */
export function renderTable(table, labels) {
  const servers = Object.keys(labels);
  const cell = (c) => (c.ratio === null ? c.text : `${c.text} (${c.ratio.toFixed(2)}x)`);
  const head = ['', ...servers.map((s) => labels[s]), 'spread'];
  const body = table.map((row) => [
    row.label,
    ...servers.map((s) => cell(row.cells[s])),
    row.spreadPct === null ? '' : Number.isFinite(row.spreadPct) ? `${row.spreadPct.toFixed(0)}%` : 'lost',
  ]);
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** The encrypted stage's rows (its results per column hold a "load" and a "trickle" phase). */
export function encryptedRows(E) {
  const load = `misses, ${E.concurrency} in flight`;
  const one = `misses one at a time, ${E.trickleQps}/s`;
  return [
    [`${load}: QPS`, 'load', 'qps', 1, 'qps'],
    [`${load}: p50 latency (ms)`, 'load', 'p50Ms', 1, 'ms'],
    [`${load}: p90 latency (ms)`, 'load', 'p90Ms', 1, 'ms'],
    [`${load}: p99 latency (ms)`, 'load', 'p99Ms', 1, 'ms'],
    [`${load}: CPU/query, Holdfast or client (µs)`, 'load', 'cpuUsPerQuery', 1, 'us'],
    // Well under 100%: the QPS is held back by something other than this side's CPU.
    [`${load}: Holdfast or client core busy (%)`, 'load', 'cpuBusy', 100, 'pct'],
    [`${load}: CPU/query, upstream server (µs)`, 'load', 'upstreamCpuUsPerQuery', 1, 'us'],
    [`${load}: new connections per query`, 'load', 'connectionsPerQuery', 1, 'conn'],
    [`${load}: TLS handshake p50 (ms)`, 'load', 'handshakeP50Ms', 1, 'ms'],
    [`${one}: p50 latency (ms)`, 'trickle', 'p50Ms', 1, 'ms'],
    [`${one}: p90 latency (ms)`, 'trickle', 'p90Ms', 1, 'ms'],
    // Too few queries for a p99: the slowest is what there is.
    [`${one}: slowest of ${E.trickleNames} (ms)`, 'trickle', 'maxMs', 1, 'ms'],
    [`${one}: new connections per query`, 'trickle', 'connectionsPerQuery', 1, 'conn'],
    ['queries lost or not NOERROR (all phases)', null, 'lost', 1, 'count'],
    ['other load on Holdfast core, worst run (%)', null, 'otherOnServerCore', 100, 'noise'],
  ];
}
