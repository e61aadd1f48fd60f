// What the upstream pool and its exchanges share: an upstream's health as the pool keeps it,
// a reply, and the pool's side of one exchange. In a file of their own so that pool.ts (which
// owns health) and hedged-exchange.ts (which decides when to send) import them both, and not
// each other.

import type { HoldfastError } from '../core/errors.ts';
import type { ServerConfig } from '../config/config.ts';
import type { ScannedMessage } from '../core/wire/message.ts';
import type { Breaker } from './health/breaker.ts';
import type { RetryBudget } from './health/retry-budget.ts';
import type { UpstreamStatus } from './health/status.ts';
import type { RtoEstimator } from './health/rto.ts';
import type { LatencyView } from './health/latency.ts';
import type { UpstreamSpec } from './spec.ts';
import type { Transport } from './transport.ts';

export type PoolOptions = ServerConfig['upstream'];

export interface UpstreamHealth {
  readonly spec: UpstreamSpec;
  /** How copies reach it: a socket per copy (UDP, TCP) or a shared connection (TLS, HTTPS). */
  readonly transport: Transport;
  readonly rto: RtoEstimator;
  /** Its reply times as a distribution: hits and misses both, so a slow miss is not taken for a loss. */
  readonly latency: LatencyView;
  readonly breaker: Breaker;
  /** What the log last said about it (failing, recovered), from its breaker. */
  readonly status: UpstreamStatus;
  /** Smoothed RTT in ms, or -1 before the first reply. */
  readonly srttMs: number;
  /** Copies sent to it that have not ended. */
  inFlight: number;
  /** Copies sent to it. */
  queries: number;
  replies: number;
  /** Copies that timed out, errors and SERVFAIL/REFUSED answers. */
  failures: number;
  /** Failures since the last good reply; they push it down the order of preference. */
  consecutiveFailures: number;
  lastReplyAtMs: number;
  /**
   * The share of copies that go unanswered, smoothed (gain 1/16): how lossy the path is. A copy
   * counts when it outlives its wait; one answered after all counts back (a slow reply, not a
   * loss). A high share says silence means loss, not a slow upstream (hedged-exchange.ts).
   */
  lossEstimate: number;
}

export interface UpstreamReply {
  readonly bytes: Uint8Array;
  readonly scan: ScannedMessage;
  readonly upstream: UpstreamSpec;
  readonly rttMs: number;
}

export interface ExchangeOptions {
  /**
   * Prefetch and other work no client waits for: refused while upstreams are unhealthy or
   * half the in-flight limit is taken, so it never crowds out client queries.
   */
  readonly background?: boolean;
}

export interface UpstreamPool {
  exchange(query: Uint8Array, options?: ExchangeOptions): Promise<UpstreamReply>;
  readonly health: readonly UpstreamHealth[];
  /** Is some upstream's breaker closed? */
  healthy(): boolean;
  /** Queries in flight to upstreams now. */
  inFlight(): number;
  readonly retryBudget: RetryBudget;
  /** Closes the connections kept open to upstreams. */
  close(): void;
  /**
   * The network changed under us (#12): drops every pooled connection at once (queries in
   * flight go out again on fresh ones), forgets RTT estimates and closes the breakers, so
   * every upstream is asked again at once over the new path.
   */
  networkChanged(): void;
  /** The checks upstreams make before use (a relay's /v1/info); rejects with a config error to refuse one. */
  preflight(): Promise<void>;
}

/** The pool's side of one exchange: where the next copy goes, and what each outcome means for health. */
export interface PoolForExchange {
  /**
   * `sentTo` names the upstream of each copy of this query sent so far (an upstream as many times
   * as it was asked); `finished`, those not to be asked again (null: none).
   * The upstream for the next copy: the healthy one with the best score, a different one for
   * each hedge while one is left, a half-open one as a probe when none is healthy; null if none.
   */
  pick(sentTo: readonly UpstreamHealth[], finished: readonly UpstreamHealth[] | null, nowMs: number): UpstreamHealth | null;
  /** A half-open upstream not yet asked whose breaker admits a probe now, or null. */
  probe(sentTo: readonly UpstreamHealth[], nowMs: number): UpstreamHealth | null;
  /**
   * A reply came (any rcode); `rttMs` when it may be used as a sample. `late`: its copy was
   * already counted silent, and was only slow.
   */
  replied(h: UpstreamHealth, rttMs: number | null, nowMs: number, late?: boolean): void;
  /** A copy ended in an error: no socket, a refused connection, a TLS or HTTP failure. */
  failed(h: UpstreamHealth, error: HoldfastError, nowMs: number): void;
  /** A copy went past its RTO (or the deadline) unanswered. */
  silent(h: UpstreamHealth, sentAtMs: number, nowMs: number): void;
  /** A copy was stopped with no verdict on its upstream. */
  abandoned(h: UpstreamHealth): void;
  /** The exchange has its outcome (a reply or an error): called once, as it settles. */
  settled(): void;
  /** The pool was closed (shutdown, or a reload's old pool): nothing more is sent. */
  closed(): boolean;
}
