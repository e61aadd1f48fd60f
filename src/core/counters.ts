// Plain counters that the pipeline bumps and that logs, tests and (later) /metrics read. Every
// name exists from the start at zero, so a scrape never sees a metric appear out of nowhere.

export const CounterName = [
  'queries_udp',
  'queries_tcp',
  'answers_cache_fresh',
  /** Expired answers given because upstreams failed or were slow (RFC 8767). */
  'answers_stale',
  /** Just-expired answers given at once while a background refresh runs. */
  'answers_stale_revalidating',
  'answers_negative',
  'answers_upstream',
  'answers_synthetic',
  /** Answered from local data, or refused a name under --local-domain or a private reverse zone. */
  'answers_local',
  /** Answered by the block stage (src/pipeline/block). */
  'answers_blocked',
  /** Answered by a --rewrite rule (src/pipeline/rewrite). */
  'answers_rewrite',
  /** Answered by a forward zone's upstreams (src/pipeline/forward), not from the cache. */
  'answers_forward_zone',
  /** Upstream answers that lost LAN addresses to rebind protection (src/pipeline/forward/rebind.ts). */
  'rebind_blocked',
  'answers_servfail',
  'coalesced',
  'dropped_short',
  'dropped_response',
  /** UDP queries from source port 0: no answer can reach it (and Node's dgram throws on sending one). */
  'dropped_source_port_zero',
  /**
   * Errors the UDP sockets reported instead of throwing (core/ports.ts UdpErrorHandler), on the
   * listeners and on the sockets to upstreams: on receive, ICMP errors (an upstream that
   * refuses, a client that has gone); on send, a datagram the runtime would not send.
   */
  'socket_errors_udp_receive',
  'socket_errors_udp_send',
  'formerr_malformed',
  'formerr_qdcount',
  'notimp_opcode',
  'badvers',
  'truncated_udp',
  'tcp_oversized_frames',
  'tcp_pipeline_overflows',
  'tcp_connections_refused',
  'tcp_idle_closed',
  'tcp_client_connections_refused',
  /** Closed for sending a query too slowly, or not reading answers, within the idle timeout. */
  'tcp_slow_closed',
  /** Closed to let a new connection in when every slot was taken (RFC 7766 §6.2.3). */
  'tcp_evicted',
  /** Closed for holding the most unsent answers when all connections together held too many. */
  'tcp_unsent_overflows',
  'acl_refused',
  'acl_dropped',
  /** REFUSED replies over UDP not sent because the refusal rate limit was reached (reflection). */
  'acl_refused_limited',
  'rate_limited_dropped',
  'rate_limited_refused',
  'rate_limited_truncated',
  'rate_limited_global',
  'rate_limit_evictions',
  'upstream_queries',
  'upstream_timeouts',
  'upstream_errors',
  'upstream_tcp_fallbacks',
  'upstream_mismatched_replies',
  'upstream_bad_replies',
  'upstream_retries',
  'upstream_retries_refused',
  'upstream_probes',
  'upstream_unavailable',
  'upstream_overloaded',
  'upstream_connections',
  'upstream_connect_failures',
  'upstream_connections_dead',
  'upstream_connections_idle_closed',
  'upstream_requeued',
  'upstream_http_errors',
  /** Relay protocol v1: requests sent, the items they carried, and items the relay failed. */
  'relay_batches',
  'relay_items',
  'relay_item_errors',
  'prefetch_queries',
  'prefetch_failures',
  'prefetch_over_budget',
  'prefetch_paused',
  'cache_inserts',
  'cache_evicted_expired',
  'cache_evicted_lru',
  'snapshot_writes',
  'snapshot_writes_skipped',
  'snapshot_write_failures',
  'snapshot_restored_entries',
  /** Entries of a snapshot whose message failed the checks an upstream reply passes (#15). */
  'snapshot_rejected_entries',
  'snapshot_set_aside',
  'query_log_write_failures',
  'query_log_lines_dropped',
  /** Lines of hosts, lease and records files that could not be read (each counted once per read of its file). */
  'local_bad_lines',
  /** Reads of local data files after a change (and at start and SIGHUP). */
  'local_file_loads',
] as const;
export type CounterName = (typeof CounterName)[number];

export type Counters = Record<CounterName, number>;

export function createCounters(): Counters {
  const c = {} as Counters;
  for (const name of CounterName) c[name] = 0;
  return c;
}
