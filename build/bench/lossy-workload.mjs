// The workload of `npm run bench:lossy` and what is made of its results: a zone of a few hundred
// names with short, varied TTLs; a steady stream of queries whose names follow a Zipf-like
// popularity (a few names asked all the time, a long tail asked once or twice); and, per server
// and phase, the share answered right and the latency percentiles.

/** A small seeded PRNG (mulberry32): the same seed gives every server the same queries. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Answer addresses from the three documentation ranges (RFC 5737): data only, never contacted.
const BLOCKS = ['192.0.2', '198.51.100', '203.0.113'];
const PER_BLOCK = 250;
export const MAX_NAMES = BLOCKS.length * PER_BLOCK;

/**
 * `count` names n0.ZONE ... each with one A record and its own TTL from ttlMin..ttlMax seconds.
 * Returns the zone file text and the entries.
 */
export function buildZone({ zone, count, ttlMinSeconds, ttlMaxSeconds, seed }) {
  if (count > MAX_NAMES) throw new Error(`bench: at most ${MAX_NAMES} names (got ${count})`);
  const random = prng(seed);
  const entries = Array.from({ length: count }, (_, i) => ({
    name: `n${i}.${zone}`,
    address: `${BLOCKS[Math.floor(i / PER_BLOCK)]}.${(i % PER_BLOCK) + 1}`,
    ttlSeconds: ttlMinSeconds + Math.floor(random() * (ttlMaxSeconds - ttlMinSeconds + 1)),
  }));
  const text = [
    `$ORIGIN ${zone}.`,
    `$TTL ${ttlMaxSeconds}`,
    `@ IN SOA ns1 hostmaster 1 3600 600 86400 ${ttlMinSeconds}`,
    '@ IN NS ns1',
    'ns1 IN A 127.0.0.1',
    ...entries.map((e, i) => `n${i} ${e.ttlSeconds} IN A ${e.address}`),
    '',
  ].join('\n');
  return { text, entries };
}

/**
 * `qps` queries a second, evenly spaced, for `seconds`: [atMs, name, expected address]. The
 * name of each is drawn with probability proportional to 1 / rank^exponent, ranks given to the
 * names in a seeded random order (so popularity has nothing to do with a name's TTL or index).
 */
export function schedule({ entries, qps, seconds, exponent, seed }) {
  const random = prng(seed);
  const order = entries.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const cdf = [];
  let sum = 0;
  for (let rank = 1; rank <= order.length; rank++) cdf.push((sum += 1 / rank ** exponent));
  const count = Math.round(qps * seconds);
  const queries = [];
  for (let q = 0; q < count; q++) {
    const u = random() * sum;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    const e = entries[order[lo]];
    queries.push([+((q * 1000) / qps).toFixed(3), e.name, e.address]);
  }
  return queries;
}

/**
 * The p-th percentile of the time to a right answer over every query sent: a query with no
 * right answer (unanswered, SERVFAIL, wrong data) counts as slower than any, so a server that
 * fails 2% of queries has no p99 (Infinity) rather than a flattering one.
 */
export function percentile(results, p) {
  if (results.length === 0) return null;
  const times = results.filter((r) => r.ok).map((r) => r.latencyMs).sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * results.length) - 1;
  return rank < times.length ? times[Math.max(0, rank)] : Infinity;
}

/**
 * The figures of one server in one phase; `upstream` ({ packets, questions }, when measured) is
 * what it sent upstream meanwhile.
 * @param {ReadonlyArray<{ ok: boolean, latencyMs: number | null, rcode: number | null }>} results
 * @param {{ packets: number, questions: number | null } | null} [upstream]
 */
export function summarise(results, upstream = null) {
  const n = results.length;
  const count = (f) => results.filter(f).length;
  return {
    queries: n,
    right: count((r) => r.ok),
    rightShare: n ? count((r) => r.ok) / n : null,
    servfail: count((r) => r.rcode === 2),
    // A reply that is neither a right answer nor SERVFAIL: another rcode, or wrong or no data.
    other: count((r) => r.rcode !== null && r.rcode !== 2 && !r.ok),
    noReply: count((r) => r.rcode === null),
    p50Ms: percentile(results, 50),
    p90Ms: percentile(results, 90),
    p99Ms: percentile(results, 99),
    upstreamPackets: upstream?.packets ?? null,
    upstreamQuestions: upstream?.questions ?? null,
    packetsPerQuery: upstream && n ? upstream.packets / n : null,
    packetsPerQuestion: upstream?.questions ? upstream.packets / upstream.questions : null,
  };
}

const ms = (v) => (v === null || v === undefined ? '' : v === Infinity ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(0));

/** Fixed-width table: one row per phase and server. */
export function renderTable(rows) {
  const head = ['phase', 'server', 'queries', 'right', 'SERVFAIL', 'other', 'no reply', 'p50 ms', 'p90 ms', 'p99 ms', 'up pkts', 'pkts/query', 'pkts/question'];
  const ratio = (v) => (v === null || v === undefined ? '' : v.toFixed(2));
  const body = rows.map(({ phase, label, s }) => [
    phase,
    label,
    String(s.queries),
    s.rightShare === null ? '' : `${(100 * s.rightShare).toFixed(1)}%`,
    String(s.servfail),
    String(s.other),
    String(s.noReply),
    ms(s.p50Ms),
    ms(s.p90Ms),
    ms(s.p99Ms),
    s.upstreamPackets === null || s.upstreamPackets === undefined ? '' : String(s.upstreamPackets),
    ratio(s.packetsPerQuery),
    ratio(s.packetsPerQuestion),
  ]);
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
