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
const NONE = -1;

/**
 * Buckets in fixed slots on a recency list (array-linked, so nothing is allocated per client
 * and every step is O(1)); the head is the least recently used. A bucket unused for
 * burst/perSecond seconds is full again, the same as no entry, so inserts clear such entries
 * from the head at no cost. When the table is full anyway, the head goes (its client starts
 * again with a full bucket) and `onEvict` is called.
 */
export function createBucketTable(rate: Rate, maxEntries: number, onEvict: () => void = () => {}): BucketTable {
  const index = new Map<BucketKey, number>();
  const keys: BucketKey[] = new Array(maxEntries);
  const tokens = new Float64Array(maxEntries);
  const atMs = new Float64Array(maxEntries);
  const prev = new Int32Array(maxEntries);
  const next = new Int32Array(maxEntries);
  const free: number[] = [];
  let used = 0;
  let head = NONE;
  let tail = NONE;
  const refilledMs = (rate.burst / rate.perSecond) * 1000;

  function unlink(i: number): void {
    if (prev[i] === NONE) head = next[i];
    else next[prev[i]] = next[i];
    if (next[i] === NONE) tail = prev[i];
    else prev[next[i]] = prev[i];
  }

  function append(i: number): void {
    prev[i] = tail;
    next[i] = NONE;
    if (tail === NONE) head = i;
    else next[tail] = i;
    tail = i;
  }

  function removeHead(): void {
    const i = head;
    unlink(i);
    index.delete(keys[i]);
    keys[i] = 0;
    free.push(i);
  }

  function slotFor(key: BucketKey, nowMs: number): number {
    for (let pruned = 0; pruned < PRUNE_PER_INSERT && head !== NONE && nowMs - atMs[head] >= refilledMs; pruned++) removeHead();
    if (index.size >= maxEntries) {
      removeHead();
      onEvict();
    }
    const i = free.length > 0 ? free.pop()! : used++;
    keys[i] = key;
    tokens[i] = rate.burst;
    atMs[i] = nowMs;
    index.set(key, i);
    append(i);
    return i;
  }

  return {
    take(key, nowMs) {
      let i = index.get(key);
      if (i === undefined) i = slotFor(key, nowMs);
      else if (i !== tail) {
        unlink(i);
        append(i);
      }
      const elapsed = nowMs - atMs[i];
      if (elapsed > 0) {
        const t = tokens[i] + (elapsed * rate.perSecond) / 1000;
        tokens[i] = t < rate.burst ? t : rate.burst;
      }
      // As in takeToken: a clock stepped backwards restarts the bucket from now.
      atMs[i] = nowMs;
      if (tokens[i] < 1) return false;
      tokens[i] -= 1;
      return true;
    },
    refund(key) {
      const i = index.get(key);
      if (i !== undefined) tokens[i] = Math.min(rate.burst, tokens[i] + 1);
    },
    get size() {
      return index.size;
    },
  };
}
