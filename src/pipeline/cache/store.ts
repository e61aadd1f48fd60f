// The cache's memory: a map from key to entry, bounded in entries and in bytes, where making
// room costs constant time per insert. Each entry sits on two intrusive lists: recency (for
// LRU) and a bucket of entries expiring in the same 16-second slice. When full, an entry from
// the oldest bucket already past is evicted first; only when nothing is past do we take the LRU
// tail. A cursor over bucket numbers only moves forward with the clock, so finding the oldest
// expired bucket is amortised constant time, unlike a heap's log n. An insert may evict several
// entries to fit the byte bound, but each entry is evicted at most once, so the cost stays
// amortised constant per insert.

import type { StoredMessage } from '../../core/wire/message.ts';

const BUCKET_MS = 16_000;

/**
 * What one entry costs beyond its variable parts (see entryBytes): the entry object, the
 * StoredMessage object, the Uint8Array around the wire bytes, the TTL array's header, the key
 * string's header, the Map's slot and the allocator's rounding. Measured, not derived:
 * `node build/bench/entry-bytes.mjs` fills a store with 100,000 entries made the way the
 * upstream stage makes them (a reply in a Buffer, scanMessage, toStored, the query's key) and
 * takes the heap's growth after a full collection (heapUsed + external, with gc() in Node,
 * Bun's gc(true) in Bun), less the variable parts, per entry. For three reply shapes (one A;
 * CNAME and two A; NXDOMAIN with SOA) that left 440-470 bytes on Bun 1.4 and 510-530 on
 * Node 20. One figure serves both runtimes, the higher one, so the bound errs on the safe side.
 * RSS grows more than the heap (the collector's headroom): docs/benchmarks.md.
 */
export const ENTRY_OVERHEAD_BYTES = 512;

/**
 * Bytes an entry of `key` and `message` is counted as: the wire bytes, the TTL pairs (8 bytes
 * a slot in V8 and JavaScriptCore alike), the key (one byte a character: keys are Latin-1, so
 * both engines keep them one byte wide) and the fixed overhead above.
 */
export function entryBytes(key: string, message: StoredMessage): number {
  return ENTRY_OVERHEAD_BYTES + key.length + message.wire.length + 8 * message.ttls.length;
}

export interface CacheEntry {
  readonly key: string;
  readonly message: StoredMessage;
  readonly storedAtMs: number;
  readonly expiresAtMs: number;
  // Intrusive links: recency list, then expiry bucket list.
  newer: CacheEntry | null;
  older: CacheEntry | null;
  bucketPrev: CacheEntry | null;
  bucketNext: CacheEntry | null;
  bucket: number;
  /** When a refresh of this entry last failed: stale answers need not ask again for a while. */
  failedAtMs: number;
  /** A background refresh is under way: one per entry, however many clients ask. */
  revalidating: boolean;
  /**
   * How popular the entry is: hits with an exponential decay, as of `popularityAtMs`.
   * Prefetch refreshes the most popular entries first; snapshots carry it across restarts.
   */
  popularity: number;
  popularityAtMs: number;
}

interface Bucket {
  head: CacheEntry | null;
}

export interface CacheStoreStats {
  evictedExpired: number;
  evictedLru: number;
  /** Buckets looked at while looking for an expired entry: the work that making room costs. */
  cursorSteps: number;
  /** Evictions the byte bound made where the entry bound alone would not have. */
  evictedForBytes: number;
  /** Entries not kept because on their own they cost more than the whole byte bound. */
  refusedTooLarge: number;
}

export interface CacheStore {
  get(key: string): CacheEntry | undefined;
  /** Looks an entry up without counting it as a use. */
  peek(key: string): CacheEntry | undefined;
  /**
   * Keeps `message` under `key`, evicting to stay within both bounds. An entry that alone
   * costs more than maxBytes is not kept (nor is the key's old entry): the returned entry is
   * then not in the store.
   */
  set(key: string, message: StoredMessage, nowMs: number, ttlMs: number): CacheEntry;
  delete(key: string): boolean;
  readonly size: number;
  /** What the entries held cost, by entryBytes(): never more than maxBytes. */
  readonly bytes: number;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly stats: CacheStoreStats;
  entries(): IterableIterator<CacheEntry>;
}

/**
 * `retainAfterExpiryMs` keeps entries that long past their expiry (for stale answers): an
 * entry counts as expired, for eviction, only once that time has passed too. `maxBytes`
 * bounds the sum of entryBytes() over the entries held.
 */
export function createCacheStore(maxEntries: number, now: () => number, retainAfterExpiryMs = 0, maxBytes = Infinity): CacheStore {
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('cache: maxEntries must be a positive integer');
  if (maxBytes !== Infinity && (!Number.isInteger(maxBytes) || maxBytes < 1)) throw new RangeError('cache: maxBytes must be a positive integer');
  const map = new Map<string, CacheEntry>();
  const buckets = new Map<number, Bucket>();
  let newest: CacheEntry | null = null;
  let oldest: CacheEntry | null = null;
  let cursor = Math.floor(now() / BUCKET_MS);
  let bytes = 0;
  const stats: CacheStoreStats = { evictedExpired: 0, evictedLru: 0, cursorSteps: 0, evictedForBytes: 0, refusedTooLarge: 0 };

  function unlinkRecency(e: CacheEntry): void {
    if (e.newer) e.newer.older = e.older;
    else newest = e.older;
    if (e.older) e.older.newer = e.newer;
    else oldest = e.newer;
    e.newer = e.older = null;
  }

  function pushNewest(e: CacheEntry): void {
    e.older = newest;
    e.newer = null;
    if (newest) newest.newer = e;
    newest = e;
    if (!oldest) oldest = e;
  }

  function unlinkBucket(e: CacheEntry): void {
    if (e.bucketPrev) e.bucketPrev.bucketNext = e.bucketNext;
    else {
      const b = buckets.get(e.bucket);
      if (b) {
        b.head = e.bucketNext;
        if (!b.head) buckets.delete(e.bucket);
      }
    }
    if (e.bucketNext) e.bucketNext.bucketPrev = e.bucketPrev;
    e.bucketPrev = e.bucketNext = null;
  }

  function linkBucket(e: CacheEntry): void {
    let b = buckets.get(e.bucket);
    if (!b) {
      b = { head: null };
      buckets.set(e.bucket, b);
    }
    e.bucketNext = b.head;
    if (b.head) b.head.bucketPrev = e;
    b.head = e;
    // A clock stepped backwards can file entries behind the cursor; pull it back to them.
    if (e.bucket < cursor) cursor = e.bucket;
  }

  function remove(e: CacheEntry): void {
    map.delete(e.key);
    // Recomputed rather than kept on the entry: a field more on every entry costs more than this.
    bytes -= entryBytes(e.key, e.message);
    unlinkRecency(e);
    unlinkBucket(e);
  }

  /** An entry whose whole bucket lies in the past, or null. */
  function oldestExpired(nowMs: number): CacheEntry | null {
    const current = Math.floor(nowMs / BUCKET_MS);
    if (buckets.size === 0) {
      cursor = current;
      return null;
    }
    while (cursor < current) {
      stats.cursorSteps++;
      const b = buckets.get(cursor);
      if (b && b.head) return b.head;
      if (current - cursor > buckets.size) {
        // After the clock jumps forward (a router booting at 1970, then NTP) the gap can be
        // years of empty buckets; when it is wider than the number of buckets, finding the
        // lowest bucket directly is cheaper than walking, so no insert costs more than either.
        let lowest = current;
        for (const n of buckets.keys()) if (n < lowest) lowest = n;
        stats.cursorSteps += buckets.size;
        cursor = lowest;
      } else cursor++;
    }
    return null;
  }

  function makeRoom(nowMs: number): void {
    const expired = oldestExpired(nowMs);
    if (expired) {
      remove(expired);
      stats.evictedExpired++;
    } else if (oldest) {
      remove(oldest);
      stats.evictedLru++;
    }
  }

  return {
    get(key) {
      const e = map.get(key);
      if (e && e !== newest) {
        unlinkRecency(e);
        pushNewest(e);
      }
      return e;
    },
    peek: (key) => map.get(key),
    set(key, message, nowMs, ttlMs) {
      const existing = map.get(key);
      if (existing) remove(existing);
      const cost = entryBytes(key, message);
      const fits = cost <= maxBytes;
      if (fits) {
        if (map.size >= maxEntries) makeRoom(nowMs);
        while (bytes + cost > maxBytes) {
          makeRoom(nowMs);
          stats.evictedForBytes++;
        }
      } else stats.refusedTooLarge++;
      const expiresAtMs = nowMs + ttlMs;
      const e: CacheEntry = {
        key,
        message,
        storedAtMs: nowMs,
        expiresAtMs,
        newer: null,
        older: null,
        bucketPrev: null,
        bucketNext: null,
        bucket: Math.floor((expiresAtMs + retainAfterExpiryMs) / BUCKET_MS),
        failedAtMs: -Infinity,
        revalidating: false,
        // A refresh keeps the popularity the name had earned.
        popularity: existing ? existing.popularity : 0,
        popularityAtMs: existing ? existing.popularityAtMs : nowMs,
      };
      if (!fits) return e;
      map.set(key, e);
      bytes += cost;
      pushNewest(e);
      linkBucket(e);
      return e;
    },
    delete(key) {
      const e = map.get(key);
      if (!e) return false;
      remove(e);
      return true;
    },
    get size() {
      return map.size;
    },
    get bytes() {
      return bytes;
    },
    maxEntries,
    maxBytes,
    stats,
    entries: () => map.values(),
  };
}
