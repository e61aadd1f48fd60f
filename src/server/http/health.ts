// What /healthz and /readyz say. Alive is simply "the process answers HTTP". Ready means the
// DNS listeners are bound; a degraded server (no upstream reachable, answers served stale) is
// still ready, because it is still the best resolver the LAN has: the body says how degraded.

import type { Counters } from '../../core/counters.ts';
import type { Clock, TimerHandle, Timers } from '../../core/ports.ts';
import type { UpstreamHealth } from '../../upstreams/pool.ts';

/** Stale answers within this long make /readyz report servingStale. */
export const STALE_WINDOW_MS = 60_000;
const STALE_SAMPLE_MS = 1_000;

export interface StaleWatch {
  /** Were stale answers served within the window? */
  servingStale(): boolean;
  stop(): void;
}

/**
 * Notices stale answers by sampling their counter once a second, so the answer path itself
 * pays nothing for it.
 */
export function createStaleWatch(counters: Readonly<Counters>, clock: Clock, timers: Timers, windowMs = STALE_WINDOW_MS): StaleWatch {
  let last = counters.answers_stale;
  let lastSeenMs = -Infinity;
  let timer: TimerHandle | null = null;
  const sample = () => {
    if (counters.answers_stale !== last) {
      last = counters.answers_stale;
      lastSeenMs = clock.now();
    }
  };
  const tick = () => {
    sample();
    timer = timers.setTimeout(tick, STALE_SAMPLE_MS);
  };
  timer = timers.setTimeout(tick, STALE_SAMPLE_MS);
  return {
    servingStale() {
      sample();
      return clock.now() - lastSeenMs < windowMs;
    },
    stop() {
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
    },
  };
}

/** What readiness reads of one pool: its upstreams' health, and the forward zone it serves. */
export interface PoolView {
  /** null: the main upstreams. */
  readonly zone: string | null;
  readonly pool: { readonly health: readonly UpstreamHealth[]; healthy(): boolean };
}

export interface ReadinessView {
  /** The DNS listeners are bound (false before they are, and once stopping begins). */
  readonly listenersBound: boolean;
  readonly listeners: ReadonlyArray<{ readonly transport: string; readonly address: string; readonly port: number }>;
  readonly pipeline: {
    readonly upstreams: { readonly health: readonly UpstreamHealth[]; healthy(): boolean };
    /** Every pool, the main one first (src/pipeline/chain.ts). */
    readonly pools: readonly PoolView[];
  };
}

/** Every upstream of every pool, the main ones first, each with its zone (null: main). */
export function allUpstreams(pools: readonly PoolView[]): Array<{ readonly zone: string | null; readonly health: UpstreamHealth }> {
  return pools.flatMap((p) => p.pool.health.map((health) => ({ zone: p.zone, health })));
}

export interface Readiness {
  readonly ready: boolean;
  readonly listeners: ReadonlyArray<{ readonly transport: string; readonly address: string; readonly port: number }>;
  /** The main upstreams, then each forward zone's (zone: null for the main ones). */
  readonly upstreams: ReadonlyArray<{ readonly label: string; readonly zone: string | null; readonly state: string; readonly srttMs: number | null; readonly rtoMs: number }>;
  /** Some main upstream's breaker is closed. */
  readonly reachable: boolean;
  /** Each forward zone, and whether some upstream of its own is reachable. */
  readonly zones: ReadonlyArray<{ readonly zone: string; readonly reachable: boolean }>;
  /** Stale answers were served within the last servingStaleWindowSeconds. */
  readonly servingStale: boolean;
  readonly servingStaleWindowSeconds: number;
}

export function readiness(view: ReadinessView, staleWatch: StaleWatch, nowMs: number): Readiness {
  return {
    ready: view.listenersBound,
    listeners: view.listenersBound ? view.listeners.map((l) => ({ transport: l.transport, address: l.address, port: l.port })) : [],
    upstreams: allUpstreams(view.pipeline.pools).map(({ zone, health: h }) => ({
      label: h.spec.label,
      zone,
      state: h.breaker.state(nowMs),
      srttMs: h.srttMs < 0 ? null : Math.round(h.srttMs * 10) / 10,
      rtoMs: Math.round(h.rto.rtoMs),
    })),
    // The main upstreams answer every name outside the zones: they decide "reachable"; a zone's
    // own state is beside it, for a VPN that is down to show without calling the LAN degraded.
    reachable: view.pipeline.upstreams.healthy(),
    zones: view.pipeline.pools.filter((p) => p.zone !== null).map((p) => ({ zone: p.zone!, reachable: p.pool.healthy() })),
    servingStale: staleWatch.servingStale(),
    servingStaleWindowSeconds: STALE_WINDOW_MS / 1000,
  };
}
