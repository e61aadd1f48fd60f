// What /metrics shows: the counters (core/counters.ts) as named Prometheus families with labels,
// the pipeline's live state (upstream health, cache size, prefetch budget) as gauges, and the
// answer latency histograms. Every family is present from the start, at zero.
//
// COUNTER_METRICS maps every counter to its family and labels. It is typed over every counter
// name, so a new counter does not compile until it has its one line here (and its line in
// docs/metrics.md).

import type { ServerConfig } from '../../config/config.ts';
import type { CounterName, Counters } from '../../core/counters.ts';
import type { BlockListStatus } from '../../services/block-lists/service.ts';
import { LATENCY_BUCKETS_MS, LATENCY_SOURCES, type LatencyHistograms } from '../../core/latency.ts';
import { BreakerState } from '../../upstreams/health/breaker.ts';
import type { UpstreamHealth } from '../../upstreams/pool.ts';
import type { HistogramSample, Labels, MetricFamily, Sample } from './exposition.ts';

/** The parts of a running server that metrics read; RunningServer has them all. */
export interface MetricsView {
  /** The cache snapshot service, when --cache-file is set. */
  readonly snapshot?: { readonly fileTimeMs: number | null } | null;
  readonly config: ServerConfig;
  readonly counters: Readonly<Counters>;
  readonly latency: LatencyHistograms;
  readonly startedAtMs: number;
  readonly version: string;
  readonly runtime: string;
  readonly pipeline: {
    readonly cache: { readonly size: number; readonly bytes: number };
    readonly upstreams: { readonly health: readonly UpstreamHealth[]; inFlight(): number };
    /** Every pool, the main one first, then each forward zone's (src/pipeline/chain.ts). */
    readonly pools: ReadonlyArray<{ readonly zone: string | null; readonly pool: { readonly health: readonly UpstreamHealth[]; inFlight(): number } }>;
  };
  readonly prefetcher: { readonly watched: number; readonly budget: { readonly spentBytes: number } };
  /** The block lists (src/services/block-lists); absent: none shown. */
  readonly blockLists?: { status(): readonly BlockListStatus[] };
}

/** Families whose samples come from counters, with their help text, in the order shown. */
const COUNTER_FAMILIES = {
  holdfast_queries_total: 'DNS messages received from clients, by transport.',
  holdfast_answers_total:
    'Answers to well-formed queries, by outcome: fresh_hit (cache), stale (expired entry served because upstreams failed or were slow, RFC 8767), stale_revalidating (just expired, served while refreshed), negative_hit (cached NXDOMAIN/NODATA), upstream (a miss answered by an upstream), synthetic (made here, such as RFC 8482 ANY), local (local data: hosts files, DHCP leases, records; or NXDOMAIN for --local-domain and private reverse names), blocked (a block list, docs/filtering.md), rewrite (a --rewrite rule), forward_zone (the upstreams of a --forward-zone, on a miss), servfail (no answer could be had).',
  holdfast_dropped_queries_total:
    'Messages dropped without a reply, by reason: short (less than a header), response (QR=1, never reflected), source_port_zero (UDP from port 0, which no reply can reach).',
  holdfast_socket_errors_total:
    'Errors UDP sockets reported, counted instead of logged, by op: receive (ICMP errors: an upstream that refuses, a client gone before its answer), send (a reply or query the system would not send).',
  holdfast_rejected_queries_total: 'Queries answered with an error rcode before reaching the cache, by rcode and reason.',
  holdfast_truncated_answers_total: 'UDP answers sent with TC=1 because they did not fit the client\'s size.',
  holdfast_coalesced_queries_total: 'Misses that waited for an identical query already in flight instead of asking upstreams again.',
  holdfast_tcp_connections_closed_total:
    'Client TCP connections closed by us, by reason: over_limit (refused at the connection cap with nobody to close), idle, slow (a query or the reading of answers not done within the idle timeout), evicted (closed to let a new connection in), oversized_frame, pipeline_overflow, unsent_overflow (held the most unsent answers when all together held too many), per_client_limit.',
  holdfast_rebind_blocked_total: 'Upstream answers that carried private, loopback, link-local, ULA or unspecified addresses for a public name, passed on without them (--rebind-protection, docs/filtering.md).',
  holdfast_access_denied_total: 'Queries from clients outside the allow list or inside the deny list, by action: refused (REFUSED), dropped (no reply), refuse_limited (no reply: over the rate of REFUSED replies over UDP).',
  holdfast_rate_limited_total: 'Queries over a rate limit, by action: truncated (TC=1 over UDP), refused, dropped.',
  holdfast_rate_limited_global_total: 'Of the rate-limited queries, those over the global limit rather than their client\'s own.',
  holdfast_rate_limit_evictions_total: 'Client rate states forgotten because the table of tracked clients was full.',
  holdfast_upstream_retries_total: 'Copies of a query sent after the first (hedges and retransmissions), paid from the retry budget.',
  holdfast_upstream_retries_refused_total: 'Retries not sent because the retry budget was spent.',
  holdfast_upstream_probes_total: 'Probe copies sent to an upstream whose circuit breaker is half-open.',
  holdfast_upstream_timeouts_total: 'Copies that went past their retransmit timeout or the deadline unanswered.',
  holdfast_upstream_errors_total: 'Copies that ended in an error: no socket, refused connection, garbled reply.',
  holdfast_upstream_tcp_fallbacks_total: 'Truncated UDP replies asked again over TCP.',
  holdfast_upstream_rejected_replies_total:
    'Replies from upstreams not accepted, by reason: mismatched (wrong source, ID or question, RFC 5452), malformed.',
  holdfast_upstream_fast_failures_total:
    'Queries failed at once without asking upstreams, by reason: unavailable (every breaker open or every upstream busy), overloaded (the in-flight limit reached).',
  holdfast_upstream_connections_total: 'Connections opened to TLS (DoT) and HTTPS (DoH) upstreams.',
  holdfast_upstream_connect_failures_total: 'Failed connections to TLS and HTTPS upstreams: refused, handshake, certificate or pin mismatch.',
  holdfast_upstream_connections_closed_total: 'Upstream connections we closed, by reason: dead (a query unanswered and nothing received), idle.',
  holdfast_upstream_requeued_total: 'Queries sent again on a new connection because the one they were on closed.',
  holdfast_upstream_http_errors_total: 'DoH and relay replies with an HTTP status other than 200.',
  holdfast_relay_batches_total: 'Requests sent to relay upstreams (relay protocol v1), each carrying a batch of questions.',
  holdfast_relay_items_total: 'Questions sent to relay upstreams; divided by batches, the mean batch size.',
  holdfast_relay_item_errors_total: 'Questions a relay answered with ok: false (its own upstreams failed them).',
  holdfast_prefetch_queries_total: 'Refreshes of popular entries sent before they expired.',
  holdfast_prefetch_failures_total: 'Prefetch refreshes that brought no answer.',
  holdfast_prefetch_skipped_rounds_total:
    'Once-a-second prefetch rounds cut short, by reason: over_budget (queries or bytes budget spent), paused (no healthy upstream).',
  holdfast_cache_inserts_total: 'Answers stored in the cache.',
  holdfast_snapshot_writes_total: 'Cache snapshot writes, by result: written, skipped (too little changed), failed.',
  holdfast_snapshot_restored_entries_total: 'Entries restored from the cache snapshot at start.',
  holdfast_snapshot_rejected_entries_total: 'Snapshot entries not restored because their message is not a sound answer to their key.',
  holdfast_snapshot_set_aside_total: 'Damaged or unreadable cache snapshots renamed aside at start.',
  holdfast_query_log_write_failures_total: 'Failed writes (or rotations) of the query log file (--query-log-file).',
  holdfast_query_log_lines_dropped_total: 'Query log lines dropped because the buffer was full while the disk failed.',
  holdfast_local_bad_lines_total: 'Lines of hosts, lease and records files that could not be read and were skipped, counted each time their file is read.',
  holdfast_local_file_loads_total: 'Reads of hosts, lease and records files: at start, on SIGHUP and after each change.',
  holdfast_cache_evictions_total: 'Entries evicted to make room, by reason: expired (past even their stale lifetime), lru (least recently used).',
} as const;
type CounterFamily = keyof typeof COUNTER_FAMILIES;

/**
 * Each counter's family and labels. `null` only for a counter shown another way, with the why.
 * Other branches add outcomes here: a rate-limit drop → ['holdfast_dropped_queries_total', { reason: 'rate_limited' }].
 */
export const COUNTER_METRICS: Record<CounterName, readonly [CounterFamily, Labels] | null> = {
  queries_udp: ['holdfast_queries_total', { transport: 'udp' }],
  queries_tcp: ['holdfast_queries_total', { transport: 'tcp' }],
  answers_cache_fresh: ['holdfast_answers_total', { outcome: 'fresh_hit' }],
  answers_stale: ['holdfast_answers_total', { outcome: 'stale' }],
  answers_stale_revalidating: ['holdfast_answers_total', { outcome: 'stale_revalidating' }],
  answers_negative: ['holdfast_answers_total', { outcome: 'negative_hit' }],
  answers_upstream: ['holdfast_answers_total', { outcome: 'upstream' }],
  answers_synthetic: ['holdfast_answers_total', { outcome: 'synthetic' }],
  answers_local: ['holdfast_answers_total', { outcome: 'local' }],
  answers_blocked: ['holdfast_answers_total', { outcome: 'blocked' }],
  answers_rewrite: ['holdfast_answers_total', { outcome: 'rewrite' }],
  answers_forward_zone: ['holdfast_answers_total', { outcome: 'forward_zone' }],
  rebind_blocked: ['holdfast_rebind_blocked_total', {}],
  answers_servfail: ['holdfast_answers_total', { outcome: 'servfail' }],
  coalesced: ['holdfast_coalesced_queries_total', {}],
  dropped_short: ['holdfast_dropped_queries_total', { reason: 'short' }],
  dropped_response: ['holdfast_dropped_queries_total', { reason: 'response' }],
  dropped_source_port_zero: ['holdfast_dropped_queries_total', { reason: 'source_port_zero' }],
  socket_errors_udp_receive: ['holdfast_socket_errors_total', { transport: 'udp', op: 'receive' }],
  socket_errors_udp_send: ['holdfast_socket_errors_total', { transport: 'udp', op: 'send' }],
  formerr_malformed: ['holdfast_rejected_queries_total', { rcode: 'FORMERR', reason: 'malformed' }],
  formerr_qdcount: ['holdfast_rejected_queries_total', { rcode: 'FORMERR', reason: 'qdcount' }],
  notimp_opcode: ['holdfast_rejected_queries_total', { rcode: 'NOTIMP', reason: 'opcode' }],
  badvers: ['holdfast_rejected_queries_total', { rcode: 'BADVERS', reason: 'edns_version' }],
  truncated_udp: ['holdfast_truncated_answers_total', {}],
  tcp_connections_refused: ['holdfast_tcp_connections_closed_total', { reason: 'over_limit' }],
  tcp_idle_closed: ['holdfast_tcp_connections_closed_total', { reason: 'idle' }],
  tcp_oversized_frames: ['holdfast_tcp_connections_closed_total', { reason: 'oversized_frame' }],
  tcp_pipeline_overflows: ['holdfast_tcp_connections_closed_total', { reason: 'pipeline_overflow' }],
  tcp_client_connections_refused: ['holdfast_tcp_connections_closed_total', { reason: 'per_client_limit' }],
  tcp_slow_closed: ['holdfast_tcp_connections_closed_total', { reason: 'slow' }],
  tcp_evicted: ['holdfast_tcp_connections_closed_total', { reason: 'evicted' }],
  tcp_unsent_overflows: ['holdfast_tcp_connections_closed_total', { reason: 'unsent_overflow' }],
  acl_refused: ['holdfast_access_denied_total', { action: 'refused' }],
  acl_dropped: ['holdfast_access_denied_total', { action: 'dropped' }],
  acl_refused_limited: ['holdfast_access_denied_total', { action: 'refuse_limited' }],
  rate_limited_dropped: ['holdfast_rate_limited_total', { action: 'dropped' }],
  rate_limited_refused: ['holdfast_rate_limited_total', { action: 'refused' }],
  rate_limited_truncated: ['holdfast_rate_limited_total', { action: 'truncated' }],
  rate_limited_global: ['holdfast_rate_limited_global_total', {}],
  rate_limit_evictions: ['holdfast_rate_limit_evictions_total', {}],
  // Every copy sent is also counted on its upstream; holdfast_upstream_queries_total{upstream} is
  // the same number split by upstream, so the total is not shown twice.
  upstream_queries: null,
  upstream_retries: ['holdfast_upstream_retries_total', {}],
  upstream_retries_refused: ['holdfast_upstream_retries_refused_total', {}],
  upstream_probes: ['holdfast_upstream_probes_total', {}],
  upstream_timeouts: ['holdfast_upstream_timeouts_total', {}],
  upstream_errors: ['holdfast_upstream_errors_total', {}],
  upstream_tcp_fallbacks: ['holdfast_upstream_tcp_fallbacks_total', {}],
  upstream_mismatched_replies: ['holdfast_upstream_rejected_replies_total', { reason: 'mismatched' }],
  upstream_bad_replies: ['holdfast_upstream_rejected_replies_total', { reason: 'malformed' }],
  upstream_unavailable: ['holdfast_upstream_fast_failures_total', { reason: 'unavailable' }],
  upstream_overloaded: ['holdfast_upstream_fast_failures_total', { reason: 'overloaded' }],
  upstream_connections: ['holdfast_upstream_connections_total', {}],
  upstream_connect_failures: ['holdfast_upstream_connect_failures_total', {}],
  upstream_connections_dead: ['holdfast_upstream_connections_closed_total', { reason: 'dead' }],
  upstream_connections_idle_closed: ['holdfast_upstream_connections_closed_total', { reason: 'idle' }],
  upstream_requeued: ['holdfast_upstream_requeued_total', {}],
  upstream_http_errors: ['holdfast_upstream_http_errors_total', {}],
  relay_batches: ['holdfast_relay_batches_total', {}],
  relay_items: ['holdfast_relay_items_total', {}],
  relay_item_errors: ['holdfast_relay_item_errors_total', {}],
  prefetch_queries: ['holdfast_prefetch_queries_total', {}],
  prefetch_failures: ['holdfast_prefetch_failures_total', {}],
  prefetch_over_budget: ['holdfast_prefetch_skipped_rounds_total', { reason: 'over_budget' }],
  prefetch_paused: ['holdfast_prefetch_skipped_rounds_total', { reason: 'paused' }],
  cache_inserts: ['holdfast_cache_inserts_total', {}],
  cache_evicted_expired: ['holdfast_cache_evictions_total', { reason: 'expired' }],
  cache_evicted_lru: ['holdfast_cache_evictions_total', { reason: 'lru' }],
  snapshot_writes: ['holdfast_snapshot_writes_total', { result: 'written' }],
  snapshot_writes_skipped: ['holdfast_snapshot_writes_total', { result: 'skipped' }],
  snapshot_write_failures: ['holdfast_snapshot_writes_total', { result: 'failed' }],
  snapshot_restored_entries: ['holdfast_snapshot_restored_entries_total', {}],
  snapshot_rejected_entries: ['holdfast_snapshot_rejected_entries_total', {}],
  snapshot_set_aside: ['holdfast_snapshot_set_aside_total', {}],
  query_log_write_failures: ['holdfast_query_log_write_failures_total', {}],
  query_log_lines_dropped: ['holdfast_query_log_lines_dropped_total', {}],
  local_bad_lines: ['holdfast_local_bad_lines_total', {}],
  local_file_loads: ['holdfast_local_file_loads_total', {}],
};

const BY_FAMILY = new Map<CounterFamily, Array<[CounterName, Labels]>>();
for (const [counter, target] of Object.entries(COUNTER_METRICS) as Array<[CounterName, readonly [CounterFamily, Labels] | null]>) {
  if (!target) continue;
  const list = BY_FAMILY.get(target[0]) ?? [];
  list.push([counter, target[1]]);
  BY_FAMILY.set(target[0], list);
}

/** Breaker states as numbers, so a graph or an alert can compare them. */
export const BREAKER_GAUGE: Record<BreakerState, number> = {
  [BreakerState.closed]: 0,
  [BreakerState.halfOpen]: 1,
  [BreakerState.open]: 2,
};

/** Upstream labels as the user wrote them, made unique should the same one be given twice. */
function upstreamLabels(health: readonly UpstreamHealth[]): string[] {
  const seen = new Map<string, number>();
  return health.map((h) => {
    const n = (seen.get(h.spec.label) ?? 0) + 1;
    seen.set(h.spec.label, n);
    return n === 1 ? h.spec.label : `${h.spec.label}#${n}`;
  });
}

/** Reads the server's state into families; `nowMs` judges breaker states. */
export function createMetricsCollector(view: MetricsView): (nowMs: number) => MetricFamily[] {
  // Prefetch bytes are an estimate corrected when the reply's size is known, so the raw figure
  // can dip; a counter must not, so it is shown as the highest value reached.
  let prefetchBytesShown = 0;

  return (nowMs) => {
    const c = view.counters;
    const families: MetricFamily[] = [];
    const counter = (name: string, help: string, samples: Sample[]) => families.push({ name, help, type: 'counter', samples });
    const gauge = (name: string, help: string, samples: Sample[]) => families.push({ name, help, type: 'gauge', samples });

    for (const [name, help] of Object.entries(COUNTER_FAMILIES) as Array<[CounterFamily, string]>) {
      counter(name, help, (BY_FAMILY.get(name) ?? []).map(([counterName, labels]) => ({ labels, value: c[counterName] })));
    }

    // The main upstreams' series keep the labels they always had ({upstream}); a forward zone's
    // add {zone}, so the same server in two pools is two series and dashboards over the main
    // ones see no new label.
    const series = view.pipeline.pools.flatMap((p) => {
      const labels = upstreamLabels(p.pool.health);
      return p.pool.health.map((h, i): { h: UpstreamHealth; labels: Labels } => ({ h, labels: p.zone === null ? { upstream: labels[i] } : { upstream: labels[i], zone: p.zone } }));
    });
    const perUpstream = (value: (h: UpstreamHealth) => number): Sample[] => series.map((s) => ({ labels: s.labels, value: value(s.h) }));
    counter('holdfast_upstream_queries_total', 'Copies of queries sent to each upstream, first sends, retries and probes together.', perUpstream((h) => h.queries));
    counter('holdfast_upstream_replies_total', 'Replies received from each upstream, any rcode.', perUpstream((h) => h.replies));
    counter(
      'holdfast_upstream_failures_total',
      'Copies to each upstream that timed out, failed, or were answered SERVFAIL or REFUSED.',
      perUpstream((h) => h.failures),
    );
    gauge(
      'holdfast_upstream_breaker_state',
      'Circuit breaker state of each upstream: 0 closed (in use), 1 half-open (probing), 2 open (skipped).',
      perUpstream((h) => BREAKER_GAUGE[h.breaker.state(nowMs)]),
    );
    gauge('holdfast_upstream_srtt_seconds', 'Smoothed round-trip time of each upstream (RFC 6298); 0 until a reply is measured.', perUpstream((h) => Math.max(0, h.srttMs) / 1000));
    gauge('holdfast_upstream_rto_seconds', 'Retransmit timeout of each upstream: how long a copy waits before another is sent.', perUpstream((h) => h.rto.rtoMs / 1000));
    gauge('holdfast_upstream_loss_ratio', 'Smoothed share of copies to each upstream unanswered past their RTO: how lossy the path is.', perUpstream((h) => h.lossEstimate));
    gauge('holdfast_upstream_in_flight', 'Copies sent to each upstream and not yet ended.', perUpstream((h) => h.inFlight));
    gauge('holdfast_upstream_exchanges_in_flight', 'Queries waiting for upstreams now, the main ones and forward zones\' together (each may have several copies out).', [
      { labels: {}, value: view.pipeline.pools.reduce((n, p) => n + p.pool.inFlight(), 0) },
    ]);

    gauge('holdfast_cache_entries', 'Entries in the cache, fresh and stale.', [{ labels: {}, value: view.pipeline.cache.size }]);
    gauge('holdfast_cache_max_entries', 'The cache size bound (--cache-size).', [{ labels: {}, value: view.config.cache.maxEntries }]);
    const fileTime = view.snapshot?.fileTimeMs ?? null;
    gauge('holdfast_snapshot_age_seconds', 'Age of the cache snapshot on disk (--cache-file): since our last write, or since the loaded file was made; 0 without one.', [
      { labels: {}, value: fileTime === null ? 0 : Math.max(0, (nowMs - fileTime) / 1000) },
    ]);
    gauge('holdfast_cache_bytes', 'What the cache entries hold, counted as the byte bound counts them (--cache-memory).', [{ labels: {}, value: view.pipeline.cache.bytes }]);
    gauge('holdfast_cache_max_bytes', 'The cache byte bound (--cache-memory).', [{ labels: {}, value: view.config.cache.maxBytes }]);

    prefetchBytesShown = Math.max(prefetchBytesShown, view.prefetcher.budget.spentBytes);
    counter('holdfast_prefetch_bytes_total', 'Bytes prefetch has spent on the wire, queries and replies with UDP/IP headers.', [
      { labels: {}, value: prefetchBytesShown },
    ]);
    gauge('holdfast_prefetch_budget_queries_per_minute', 'Refreshes per minute prefetch may send (--prefetch); 0 when prefetch is off.', [
      { labels: {}, value: view.config.prefetch.queriesPerMinute },
    ]);
    gauge('holdfast_prefetch_budget_bytes_per_hour', 'Bytes per hour prefetch may spend (--prefetch-bytes-per-hour); 0 for no limit.', [
      { labels: {}, value: view.config.prefetch.bytesPerHour },
    ]);
    gauge('holdfast_prefetch_watched_entries', 'Popular entries prefetch keeps fresh.', [{ labels: {}, value: view.prefetcher.watched }]);

    const bounds = LATENCY_BUCKETS_MS.map((ms) => ms / 1000);
    families.push({
      name: 'holdfast_answer_duration_seconds',
      help: 'Time from a parsed query to its rendered answer, by the answer\'s source (failure: SERVFAIL).',
      type: 'histogram',
      samples: LATENCY_SOURCES.map((source): HistogramSample => {
        const h = view.latency.read(source);
        return { labels: { source }, bounds, counts: h.counts, sum: h.sumMs / 1000 };
      }),
    });

    const lists = view.blockLists?.status() ?? [];
    const perList = (value: (l: BlockListStatus) => number): Sample[] => lists.map((l) => ({ labels: { list: l.list }, value: value(l) }));
    // Only with lists: a family with no series says nothing, and every family shown has some.
    if (lists.length > 0) counter('holdfast_blocked_total', 'Queries answered by each block list (--block-list); a name on two lists counts for the first.', perList((l) => l.blocked));
    if (lists.length > 0) gauge('holdfast_block_list_names', 'Names each block list holds now; 0 for a URL list with no copy yet.', perList((l) => l.names));
    if (lists.length > 0) gauge('holdfast_block_list_age_seconds', 'Since each block list was read (a file) or last downloaded or found unchanged (a URL); -1: never.', perList((l) => (l.updatedAtMs === null ? -1 : Math.max(0, (nowMs - l.updatedAtMs) / 1000))));

    gauge('holdfast_build_info', 'Always 1; the labels say which build and runtime are running.', [
      { labels: { version: view.version, runtime: view.runtime }, value: 1 },
    ]);
    gauge('holdfast_start_time_seconds', 'When the server started, in seconds since the Unix epoch.', [{ labels: {}, value: view.startedAtMs / 1000 }]);
    return families;
  };
}
