// Choosing an upstream and failing over. Each upstream keeps a smoothed RTT and a count of
// recent failures; a query goes to the best one first and, on a timeout, a network error, a
// garbled reply, SERVFAIL or REFUSED, to the next, until attempts or the deadline run out.

import { ErrorCode, HoldfastError, Rcode } from '../../core/errors.ts';
import type { CorePorts } from '../../core/ports.ts';
import type { Counters } from '../../core/counters.ts';
import { scanMessage, type ScannedMessage } from '../../core/wire/message.ts';
import type { UpstreamSpec } from './spec.ts';
import { exchangeTcp } from './transport-tcp.ts';
import { exchangeUdp } from './transport-udp.ts';

export interface PoolOptions {
  /** How long one attempt at one upstream may take. */
  readonly attemptTimeoutMs: number;
  /** How long a client query may wait for upstreams in all. */
  readonly totalTimeoutMs: number;
  /** Attempts per query, cycling through the upstreams in order of preference. */
  readonly maxAttempts: number;
}

export interface UpstreamHealth {
  readonly spec: UpstreamSpec;
  srttMs: number;
  consecutiveFailures: number;
  lastFailureMs: number;
  queries: number;
  failures: number;
}

export interface UpstreamReply {
  readonly bytes: Uint8Array;
  readonly scan: ScannedMessage;
  readonly upstream: UpstreamSpec;
  readonly rttMs: number;
}

export interface UpstreamPool {
  exchange(query: Uint8Array): Promise<UpstreamReply>;
  readonly health: readonly UpstreamHealth[];
}

const INITIAL_SRTT_MS = 50;
/** A failing upstream is tried last for this long after its latest failure. */
const FAILURE_MEMORY_MS = 30_000;

export function createUpstreamPool(specs: readonly UpstreamSpec[], options: PoolOptions, ports: CorePorts, counters: Counters): UpstreamPool {
  if (specs.length === 0) throw new HoldfastError(ErrorCode.config, 'upstream: at least one upstream is needed');
  const health: UpstreamHealth[] = specs.map((spec) => ({
    spec,
    srttMs: INITIAL_SRTT_MS,
    consecutiveFailures: 0,
    lastFailureMs: -Infinity,
    queries: 0,
    failures: 0,
  }));

  function preferenceOrder(nowMs: number): UpstreamHealth[] {
    if (health.length === 1) return health;
    const score = (h: UpstreamHealth) =>
      h.srttMs + (nowMs - h.lastFailureMs < FAILURE_MEMORY_MS ? 10_000 * Math.min(h.consecutiveFailures, 10) : 0);
    return [...health].sort((a, b) => score(a) - score(b));
  }

  function recordSuccess(h: UpstreamHealth, rttMs: number): void {
    // RFC 6298's smoothing gain of 1/8.
    h.srttMs += (rttMs - h.srttMs) / 8;
    h.consecutiveFailures = 0;
  }

  function recordFailure(h: UpstreamHealth, nowMs: number): void {
    h.failures++;
    h.consecutiveFailures++;
    h.lastFailureMs = nowMs;
  }

  async function attempt(h: UpstreamHealth, query: Uint8Array, timeoutMs: number): Promise<UpstreamReply> {
    const started = ports.clock.now();
    h.queries++;
    counters.upstream_queries++;
    let bytes =
      h.spec.protocol === 'tcp'
        ? await exchangeTcp(ports, h.spec, query, timeoutMs, counters)
        : await exchangeUdp(ports, h.spec, query, timeoutMs, counters);
    let scan = scanMessage(bytes);
    if (typeof scan !== 'string' && scan.truncated && h.spec.protocol === 'udp') {
      // RFC 7766 §5: a truncated UDP reply means "ask again over TCP".
      counters.upstream_tcp_fallbacks++;
      const left = Math.max(1, timeoutMs - (ports.clock.now() - started));
      bytes = await exchangeTcp(ports, h.spec, query, left, counters);
      scan = scanMessage(bytes);
    }
    if (typeof scan === 'string') {
      counters.upstream_bad_replies++;
      throw new HoldfastError(ErrorCode.upstreamBadReply, `upstream: unusable reply from ${h.spec.label} (${scan})`);
    }
    return { bytes, scan, upstream: h.spec, rttMs: ports.clock.now() - started };
  }

  async function exchange(query: Uint8Array): Promise<UpstreamReply> {
    const start = ports.clock.now();
    const deadline = start + options.totalTimeoutMs;
    const order = preferenceOrder(start);
    let lastError: HoldfastError | null = null;
    let lastRefusal: UpstreamReply | null = null;
    // An upstream that answered SERVFAIL or REFUSED has given its answer; asking it again
    // within the same query only adds load. Timeouts, by contrast, are worth a second try.
    const answered = new Set<UpstreamHealth>();
    let turn = 0;
    for (let i = 0; i < options.maxAttempts; i++) {
      const left = deadline - ports.clock.now();
      if (left <= 0 || answered.size === order.length) break;
      let h = order[turn++ % order.length];
      while (answered.has(h)) h = order[turn++ % order.length];
      try {
        const reply = await attempt(h, query, Math.min(options.attemptTimeoutMs, left));
        const rcode = reply.scan.rcode;
        if (rcode === Rcode.SERVFAIL || rcode === Rcode.REFUSED) {
          // Another upstream may do better; keep this one in case none does.
          recordFailure(h, ports.clock.now());
          answered.add(h);
          lastRefusal = reply;
          continue;
        }
        recordSuccess(h, reply.rttMs);
        return reply;
      } catch (e) {
        recordFailure(h, ports.clock.now());
        // Anything a transport throws is that upstream's failure, never the end of the query.
        const err =
          e instanceof HoldfastError
            ? e
            : new HoldfastError(ErrorCode.upstreamNetwork, `upstream: ${h.spec.label} failed (${e instanceof Error ? e.message : String(e)})`);
        if (err.code === ErrorCode.upstreamTimeout) counters.upstream_timeouts++;
        else counters.upstream_errors++;
        lastError = err;
      }
    }
    if (lastRefusal) return lastRefusal;
    throw new HoldfastError(
      ErrorCode.upstreamsExhausted,
      `upstream: no usable reply after ${options.maxAttempts} attempts (${lastError?.message ?? 'deadline passed'})`,
      Rcode.SERVFAIL,
    );
  }

  return { exchange, health };
}
