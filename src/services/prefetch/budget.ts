// What prefetch may spend: queries per minute and, for metered links, bytes per hour. Each is a
// token bucket holding one minute's worth, so a burst after start-up is bounded too and the
// rate over any longer span stays at the configured one.

export interface PrefetchBudgetOptions {
  readonly queriesPerMinute: number;
  /** 0: no limit on bytes. */
  readonly bytesPerHour: number;
}

export interface PrefetchBudget {
  /** Takes one query and `bytes` if both are there; otherwise takes nothing. */
  trySpend(bytes: number, nowMs: number): boolean;
  /** Corrects an estimate once the real size is known (may leave the bytes bucket in debt). */
  adjust(extraBytes: number): void;
  readonly spentQueries: number;
  readonly spentBytes: number;
}

interface Bucket {
  tokens: number;
  readonly perMs: number;
  readonly capacity: number;
}

function bucket(perMinute: number): Bucket {
  return { tokens: perMinute, perMs: perMinute / 60_000, capacity: perMinute };
}

export function createPrefetchBudget(o: PrefetchBudgetOptions, nowMs: number): PrefetchBudget {
  const queries = bucket(o.queriesPerMinute);
  const bytes = o.bytesPerHour > 0 ? bucket(o.bytesPerHour / 60) : null;
  let lastMs = nowMs;
  let spentQueries = 0;
  let spentBytes = 0;

  const refill = (now: number) => {
    // A clock stepped backwards refills nothing.
    const elapsed = Math.max(0, now - lastMs);
    lastMs = Math.max(lastMs, now);
    for (const b of [queries, bytes]) if (b) b.tokens = Math.min(b.capacity, b.tokens + elapsed * b.perMs);
  };

  return {
    trySpend(n, now) {
      refill(now);
      if (queries.tokens < 1 || (bytes && bytes.tokens < n)) return false;
      queries.tokens -= 1;
      if (bytes) bytes.tokens -= n;
      spentQueries++;
      spentBytes += n;
      return true;
    },
    adjust(extra) {
      if (bytes) bytes.tokens -= extra;
      spentBytes += extra;
    },
    get spentQueries() {
      return spentQueries;
    },
    get spentBytes() {
      return spentBytes;
    },
  };
}
