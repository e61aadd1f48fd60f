// Token buckets: `burst` queries at once, then `perSecond` on average. One bucket for the whole
// server, and a table of them keyed by client prefix whose size is bounded, so a flood from
// ever-new source addresses cannot grow memory without bound.

export interface Rate {
  readonly perSecond: number;
  readonly burst: number;
}

export interface Bucket {
  tokens: number;
  atMs: number;
}

export function createBucket(rate: Rate, nowMs: number): Bucket {
  return { tokens: rate.burst, atMs: nowMs };
}

/** Refills `b` for the time since it was last used, then takes one token if there is one. */
export function takeToken(b: Bucket, rate: Rate, nowMs: number): boolean {
  const elapsed = nowMs - b.atMs;
  if (elapsed > 0) {
    const t = b.tokens + (elapsed * rate.perSecond) / 1000;
    b.tokens = t < rate.burst ? t : rate.burst;
  }
  // A clock stepped backwards (an NTP fix on a router without a real-time clock) must not stop
  // refills until it catches up: the bucket simply restarts from now.
  b.atMs = nowMs;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

export type BucketKey = number | string;

export interface BucketTable {
  /** Takes a token from `key`'s bucket, making the bucket (full) if it is new. */
  take(key: BucketKey, nowMs: number): boolean;
  /** Gives back the token just taken (another limit said no after all). */
  refund(key: BucketKey): void;
  readonly size: number;
}

/** How many idle entries one insert may clear from the old end of the table. */
const PRUNE_PER_INSERT = 2;

/**
 * Buckets in a Map kept in order of last use (an entry moves to the end when used), so the
 * first entry is the least recently used. A bucket unused for burst/perSecond seconds is full
 * again, the same as no entry, so it can go at no cost; inserts clear such entries from the
 * front. When the table is full anyway, the least recently used bucket goes (its client starts
 * again with a full bucket) and `onEvict` is called.
 */
export function createBucketTable(rate: Rate, maxEntries: number, onEvict: () => void = () => {}): BucketTable {
  const buckets = new Map<BucketKey, Bucket>();
  const refilledMs = (rate.burst / rate.perSecond) * 1000;

  function makeRoom(nowMs: number): void {
    let pruned = 0;
    for (const [key, b] of buckets) {
      if (pruned === PRUNE_PER_INSERT || nowMs - b.atMs < refilledMs) break;
      buckets.delete(key);
      pruned++;
    }
    if (buckets.size < maxEntries) return;
    for (const key of buckets.keys()) {
      buckets.delete(key);
      onEvict();
      break;
    }
  }

  return {
    take(key, nowMs) {
      let b = buckets.get(key);
      if (b === undefined) {
        makeRoom(nowMs);
        b = createBucket(rate, nowMs);
      } else buckets.delete(key);
      buckets.set(key, b);
      return takeToken(b, rate, nowMs);
    },
    refund(key) {
      const b = buckets.get(key);
      if (b !== undefined) b.tokens = Math.min(rate.burst, b.tokens + 1);
    },
    get size() {
      return buckets.size;
    },
  };
}
