// A circuit breaker per upstream: closed (in use) → open (skipped) after consecutive failures →
// half-open (one probe allowed) after a cooldown → closed again on the probe's success, or open
// with a longer cooldown on its failure. Cooldowns are jittered so that many routers behind one
// upstream do not probe in lockstep, and capped so a recovered upstream is back within seconds,
// never "dead until restart".

export const BreakerState = { closed: 'closed', open: 'open', halfOpen: 'half-open' } as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  readonly failureThreshold: number;
  readonly baseCooldownMs: number;
  readonly maxCooldownMs: number;
}

export interface Breaker {
  /** May a query be sent now? In half-open state, only the one probe may. */
  allow(nowMs: number): boolean;
  success(): void;
  failure(nowMs: number): void;
  /** The probe allowed in half-open state ended without a verdict (its query was answered elsewhere): allow another. */
  abandon(): void;
  state(nowMs: number): BreakerState;
  /** When an open breaker next lets a probe through. */
  readonly retryAtMs: number;
}

export function createBreaker(o: BreakerOptions, random: () => number): Breaker {
  let state: BreakerState = BreakerState.closed;
  let failures = 0;
  let opens = 0;
  let retryAt = 0;
  let probing = false;

  const open = (now: number) => {
    state = BreakerState.open;
    probing = false;
    const cooldown = Math.min(o.maxCooldownMs, o.baseCooldownMs * 2 ** Math.min(opens, 16));
    opens++;
    // Full jitter in [cooldown/2, cooldown).
    retryAt = now + cooldown * (0.5 + random() / 2);
  };

  const current = (now: number): BreakerState => {
    if (state === BreakerState.open && now >= retryAt) state = BreakerState.halfOpen;
    return state;
  };

  return {
    allow(now) {
      const s = current(now);
      if (s === BreakerState.closed) return true;
      if (s === BreakerState.halfOpen && !probing) {
        probing = true;
        return true;
      }
      return false;
    },
    success() {
      state = BreakerState.closed;
      failures = 0;
      opens = 0;
      probing = false;
    },
    failure(now) {
      const s = current(now);
      if (s === BreakerState.halfOpen) {
        open(now);
        return;
      }
      if (s === BreakerState.closed && ++failures >= o.failureThreshold) {
        failures = 0;
        open(now);
      }
    },
    abandon() {
      probing = false;
    },
    state: current,
    get retryAtMs() {
      return retryAt;
    },
  };
}
