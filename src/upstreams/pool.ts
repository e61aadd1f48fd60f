// The upstreams and their health. Each upstream has an adaptive retransmit timeout (RTO, from
// its smoothed RTT), a circuit breaker, and a count of copies in flight; the pool picks where
// each copy of a query goes, and hedged-exchange.ts decides when to send one.
//
// Health is judged so that a lossy link is not mistaken for a dead one: a copy that goes
// unanswered counts against its upstream only if nothing at all has been heard from that
// upstream since the copy was sent, nor for `breakerSilenceMs`. At 30% loss replies keep
// arriving and the breaker stays closed; when the link is gone, the breaker opens after a few
// silent copies and queries fail fast (the cache then answers stale at once) until a jittered
// probe gets through.

import { ErrorCode, HoldfastError } from '../core/errors.ts';
import type { ServerConfig } from '../config/config.ts';
import type { CorePorts } from '../core/ports.ts';
import type { Counters } from '../core/counters.ts';
import type { ScannedMessage } from '../core/wire/message.ts';
import { BreakerState, createBreaker, type Breaker } from './health/breaker.ts';
import { createRetryBudget, type RetryBudget } from './health/retry-budget.ts';
import { createUpstreamStatus, type UpstreamStatus } from './health/status.ts';
import { createRtoEstimator, type RtoEstimator } from './health/rto.ts';
import { createLatencyView } from './health/latency.ts';
import { DueList } from './due-list.ts';
import { copiesTo, hedgedExchange } from './hedged-exchange.ts';
import type { ExchangeOptions, PoolForExchange, PoolOptions, UpstreamHealth, UpstreamPool, UpstreamReply } from './pool-types.ts';
import type { UpstreamSpec } from './spec.ts';
import { createTransport } from './create-transport.ts';
import { DEFAULT_ENCRYPTED_SETTINGS, type EncryptedTransportSettings, type Transport, type UpstreamEvent } from './transport.ts';

/** RFC 6298's G: the least margin of the RTO over the smoothed RTT. */
const RTO_GRANULARITY_MS = 20;
const RETRY_WINDOW_MS = 10_000;
const LOSS_GAIN = 1 / 16;

export type { ExchangeOptions, PoolForExchange, PoolOptions, UpstreamHealth, UpstreamPool, UpstreamReply } from './pool-types.ts';

/** A failure's reason for the log line that already names the upstream: what kind, then the error's own words. */
function reasonOf(e: HoldfastError, label: string): string {
  const detail = e.message.replace(/^upstream: /, '').replace(`${label} `, '');
  switch (e.code) {
    case ErrorCode.upstreamRefused:
      return detail.includes('refused') ? detail : `refused: ${detail}`;
    case ErrorCode.upstreamTls:
      return `TLS error: ${detail}`;
    case ErrorCode.upstreamHttp:
      return `HTTP error: ${detail}`;
    case ErrorCode.upstreamProxy:
      return `proxy error: ${detail}`;
    case ErrorCode.upstreamTimeout:
      return `timeouts: ${detail}`;
    default:
      return detail;
  }
}

export function createUpstreamPool(
  specs: readonly UpstreamSpec[],
  options: PoolOptions,
  ports: CorePorts,
  counters: Counters,
  encrypted: EncryptedTransportSettings = DEFAULT_ENCRYPTED_SETTINGS,
): UpstreamPool {
  if (specs.length === 0) throw new HoldfastError(ErrorCode.config, 'upstream: at least one upstream is needed');
  const random = () => ports.entropy.random();
  const emit = encrypted.onEvent;
  const health: UpstreamHealth[] = specs.map((spec) => {
    const rto = createRtoEstimator({ minMs: options.rtoMinMs, maxMs: options.rtoMaxMs, initialMs: options.rtoInitialMs, granularityMs: RTO_GRANULARITY_MS });
    // One path for every line about this upstream, the transport's and the breaker's: the CLI
    // turns each event into a log line.
    const status = createUpstreamStatus((e) => emit?.({ upstream: spec.label, ...e }));
    const fromTransport = (e: UpstreamEvent) => {
      const now = ports.clock.now();
      // A connection that failed is the upstream failing, in the transport's words (which name
      // the TLS or proxy error); a later "failing" from the breaker then adds no line.
      if (e.kind === 'connect-failed' && (e.code === ErrorCode.upstreamTls || e.code === ErrorCode.upstreamProxy)) status.failed(now, e);
      else if (e.kind === 'connected' && status.down) status.recovered(now, e);
      // A relay's info check and the like: not the upstream's health.
      else emit?.(e);
    };
    return {
      spec,
      // The transport sees this upstream's RTO, to stop using a connection silent past it.
      transport: createTransport(spec, { ...encrypted, rtoMs: () => rto.rtoMs, ...(emit ? { onEvent: fromTransport } : {}) }, ports, counters),
      rto,
      latency: createLatencyView(),
      breaker: createBreaker(
        { failureThreshold: options.breakerFailures, baseCooldownMs: options.breakerCooldownMs, maxCooldownMs: options.breakerMaxCooldownMs },
        random,
      ),
      status,
      get srttMs() {
        return rto.srttMs;
      },
      inFlight: 0,
      queries: 0,
      replies: 0,
      failures: 0,
      consecutiveFailures: 0,
      lastReplyAtMs: -Infinity,
      lossEstimate: 0,
    };
  });
  const breakerOpened = (h: UpstreamHealth, code: ErrorCode, reason: string, now: number) =>
    h.status.failed(now, { kind: 'failing', code, message: `upstream: ${h.spec.label} is failing (${reason}); it is asked again after a cooldown` });

  // Every exchange's wait for its next copy, on one timer (#11).
  const hedges = new DueList(ports.clock, ports.timers);
  const retryBudget = createRetryBudget({ ratio: options.retryRatio, minPerSecond: options.retryMinPerSecond, windowMs: RETRY_WINDOW_MS });
  let inFlight = 0;

  // An upstream never measured scores 0, so it is tried and measured; each recent failure
  // costs it one RTO, so a flaky upstream sinks below a steady one before its breaker opens.
  const score = (h: UpstreamHealth) => Math.max(0, h.rto.srttMs) + h.consecutiveFailures * h.rto.rtoMs;

  let closed = false;
  const forExchange: PoolForExchange = {
    pick(sentTo, finished, now) {
      let best: UpstreamHealth | null = null;
      let bestScore = Infinity;
      let probe: UpstreamHealth | null = null;
      for (const h of health) {
        if ((finished !== null && finished.includes(h)) || h.inFlight >= options.maxInFlightPerUpstream) continue;
        const state = h.breaker.state(now);
        if (state === BreakerState.closed) {
          // Hedges spread over the healthy upstreams before any is asked twice.
          const s = score(h) + copiesTo(sentTo, h) * 1e9;
          if (s < bestScore) {
            best = h;
            bestScore = s;
          }
        } else if (state === BreakerState.halfOpen && probe === null && !sentTo.includes(h)) probe = h;
      }
      if (best) return best;
      // allow() admits one probe per half-open breaker; it may already be out with another query.
      return probe && probe.breaker.allow(now) ? probe : null;
    },
    probe(sentTo, now) {
      for (const h of health) {
        if (sentTo.includes(h) || h.inFlight >= options.maxInFlightPerUpstream) continue;
        if (h.breaker.state(now) === BreakerState.halfOpen && h.breaker.allow(now)) return h;
      }
      return null;
    },
    replied(h, rttMs, now, late = false) {
      h.replies++;
      h.lastReplyAtMs = now;
      // A late reply takes back its copy's count as silent (the inverse of silent()'s step).
      if (late) h.lossEstimate = Math.max(0, (h.lossEstimate - LOSS_GAIN) / (1 - LOSS_GAIN));
      h.lossEstimate -= h.lossEstimate * LOSS_GAIN;
      if (rttMs !== null) {
        // Each copy has its own ID (and over UDP and TCP its own socket; over HTTPS its own
        // request), so a reply says which copy it answers: RTT samples stay valid under
        // retransmission, without Karn's ambiguity.
        h.rto.sample(rttMs);
        h.latency.sample(rttMs);
        h.consecutiveFailures = 0;
      }
      h.breaker.success();
      if (h.status.down) h.status.recovered(now, { kind: 'recovered', code: null, message: `upstream: ${h.spec.label} recovered: it answers again` });
    },
    failed(h, error, now) {
      h.failures++;
      h.consecutiveFailures++;
      h.breaker.failure(now);
      if (h.breaker.state(now) === BreakerState.open) breakerOpened(h, error.code, reasonOf(error, h.spec.label), now);
    },
    silent(h, sentAtMs, now) {
      h.failures++;
      h.consecutiveFailures++;
      h.lossEstimate += (1 - h.lossEstimate) * LOSS_GAIN;
      // Heard from since this copy left, or lately: alive, only lossy. Not the breaker's
      // business: at 30% loss each way a run of five lost copies is common, a few seconds
      // without a single reply is not.
      const heardLately = h.lastReplyAtMs >= sentAtMs || now - h.lastReplyAtMs < options.breakerSilenceMs;
      if (!heardLately) {
        h.breaker.failure(now);
        if (h.breaker.state(now) === BreakerState.open) {
          const heard = Number.isFinite(h.lastReplyAtMs) ? `nothing heard for ${Math.round((now - h.lastReplyAtMs) / 1000)} s` : 'never heard from';
          breakerOpened(h, ErrorCode.upstreamTimeout, `timeouts: ${h.consecutiveFailures} copies in a row unanswered, ${heard}`, now);
        }
      } else if (h.breaker.state(now) === BreakerState.halfOpen) h.breaker.abandon();
    },
    abandoned(h) {
      h.breaker.abandon();
    },
    settled() {
      inFlight--;
    },
    closed: () => closed,
  };

  const healthy = () => {
    const now = ports.clock.now();
    return health.some((h) => h.breaker.state(now) === BreakerState.closed);
  };

  return {
    health,
    retryBudget,
    healthy,
    inFlight: () => inFlight,
    close() {
      closed = true;
      for (const h of health) h.transport.close();
    },
    networkChanged() {
      // What was measured and judged over the old path says nothing of the new one.
      for (const h of health) {
        h.transport.reset?.();
        h.rto.reset();
        h.breaker.success();
        h.consecutiveFailures = 0;
        h.lossEstimate = 0;
      }
    },
    async preflight() {
      await Promise.all(health.map((h) => h.transport.preflight?.()));
    },
    exchange(query, exchangeOptions = {}) {
      const background = exchangeOptions.background === true;
      if (inFlight >= (background ? options.maxInFlight / 2 : options.maxInFlight)) {
        counters.upstream_overloaded++;
        return Promise.reject(new HoldfastError(ErrorCode.upstreamsUnavailable, `upstream: ${inFlight} queries already in flight`));
      }
      if (background && !healthy()) {
        return Promise.reject(new HoldfastError(ErrorCode.upstreamsUnavailable, 'upstream: no healthy upstream for background work'));
      }
      inFlight++;
      return hedgedExchange(query, forExchange, options, ports, counters, retryBudget, hedges);
    },
  };
}
