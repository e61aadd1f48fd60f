// The cache's memory, kept without an object per entry: a router with 256 MB cannot spend
// ~450 bytes of JavaScript objects (entry, message, Uint8Array, TTL array, key string, Map slot)
// on every name it remembers. Instead:
//   - each entry is a slot number; its times, popularity and links sit in two typed arrays
//     (Float64Array and Int32Array, a fixed stride per slot) that grow by doubling;
//   - its key, wire bytes and TTL offsets are one record in an arena of 64 KiB Uint8Array pages,
//     appended at the end of the current page; a freed record leaves a hole, and a page whose
//     holes reach an eighth of it is evacuated (its live records copied to the current page),
//     so the arena stays within 8/7 of what its live records take;
//   - a hash of the key finds the slot in an open-addressing table of Int32Array slots (linear
//     probing, backward-shift deletion: no tombstones), kept at most 70% full; it grows into a
//     table twice as large without a pause, its entries moved a few per insert (growIndexTo).
// Eviction is as before: each entry sits on two intrusive lists (now Int32Array links), recency
// (for LRU) and a bucket of entries expiring in the same 16-second slice. When full, an entry
// from the oldest bucket already past is evicted first; only when nothing is past do we take the
// LRU tail. A cursor over bucket numbers only moves forward with the clock, so finding the oldest
// expired bucket is amortised constant time. An insert may evict several entries to fit the byte
// bound, but each entry is evicted at most once, so the cost stays amortised constant per insert.
//
// Callers on the query path use slot numbers (find, expiresAtMs, messageAt); everyone else gets
// CacheEntry handles, which check a generation number so that a handle kept across an await
// never reads or writes the entry that later took its slot.

import type { StoredMessage } from '../../core/wire/message.ts';
import { keyFlags, type QueryHeader } from '../../core/wire/query.ts';

const BUCKET_MS = 16_000;
const PAGE_BYTES = 65_536;
/** Records above this get a page of their own, freed with them. */
const LARGE_RECORD_BYTES = PAGE_BYTES / 4;
/** A page whose freed bytes reach 1/COMPACT_AT of it is evacuated. */
const COMPACT_AT = 8;

// Record layout in a page (byte offsets; big-endian like the wire):
//   0 slot i32 (-1 once freed)  4 key field u16  6 wire length u16  8 TTL pairs u16
//   10 rcode u8  11 AD u8  12 answer count u16  14 min answer TTL i32  18 negative TTL i32
//   22 key (one byte a char), wire, then per TTL pair: offset u16, seconds u32 (or the offset
//   alone: TTLS_IN_WIRE)
// A key is the question's folded name, type, class and one byte of DO/CD bits (query.ts), and a
// reply repeats that question at byte 12: then only the last byte is stored, the key field is
// KEY_IN_WIRE, and the wire's question name is kept lowercased (renderStored writes the
// client's spelling over it anyway), which saves the ~20 bytes of a typical key.
const RECORD_HEADER_BYTES = 22;
const KEY_IN_WIRE = 0x8000;
/** Type, class and the DO/CD byte after the name in a key. */
const KEY_SUFFIX_BYTES = 5;
const HEADER = 12;
const TTL_PAIR_BYTES = 6;
/**
 * In the TTL pairs field: only the offsets are stored (2 bytes each), because the wire holds
 * each TTL at its offset already (toStored writes the clamped TTL there), so the seconds are
 * read back from the wire.
 */
const TTLS_IN_WIRE = 0x8000;

// Per-slot fields. Float64Array, F_STRIDE a slot:
const F_STORED = 0;
const F_EXPIRES = 1;
const F_POPULARITY = 2;
const F_POPULARITY_AT = 3;
const F_FAILED = 4;
const F_STRIDE = 5;
// Int32Array, I_STRIDE a slot:
const I_NEWER = 0;
const I_OLDER = 1;
const I_BUCKET_PREV = 2;
const I_BUCKET_NEXT = 3;
const I_BUCKET = 4;
/** Page number * PAGE_BYTES + offset: pages are 64 KiB, and a large record starts its own at 0. */
const I_RECORD = 5;
const I_HASH = 6;
/** Generation << 1 | revalidating: a freed slot's next tenant has another generation. */
const I_GEN = 7;
const I_STRIDE = 8;
const SLOT_CHUNK_SHIFT = 12;
const SLOT_CHUNK = 1 << SLOT_CHUNK_SHIFT;
const SLOT_CHUNK_MASK = SLOT_CHUNK - 1;
/** In the table the index grows from: an entry that was here (see growIndexTo). */
const MOVED = -1;
/** Positions of that table emptied per insert: more than 1/0.7, so it is empty before the next growth. */
const MOVE_STEPS = 8;

/**
 * What one entry costs beyond its record: its share of the slot arrays (5 float64 and 8 int32
 * fields: 72 bytes), of the hash table (4-byte slots, 35% to 70% full: 6 to 12 bytes) and the
 * arena's holes and the last chunk and page (below). The
 * slot arrays grow a chunk of 4,096 slots (288 KiB) at a time and the arena a 64 KiB page at a
 * time: that much beyond the count, at most, plus the arena's holes. Checked against the heap's
 * growth by `node build/bench/entry-bytes.mjs`.
 */
export const ENTRY_OVERHEAD_BYTES = 88;

/**
 * Bytes an entry of `key` and `message` is counted as: its record in the arena (a fixed header,
 * the key at one byte a character, the wire bytes, six bytes a TTL pair) and the fixed overhead
 * above. The arena itself may hold up to 1/7 more in holes not yet compacted, plus one page.
 */
export function entryBytes(key: string, message: StoredMessage): number {
  return ENTRY_OVERHEAD_BYTES + recordBytes(keyField(key, message.wire), message.wire.length, pairsField(message));
}

function recordBytes(keyField: number, wireLength: number, pairsField: number): number {
  const ttlBytes = pairsField & TTLS_IN_WIRE ? 2 * (pairsField & ~TTLS_IN_WIRE) : TTL_PAIR_BYTES * pairsField;
  return RECORD_HEADER_BYTES + (keyField & KEY_IN_WIRE ? 1 : keyField) + wireLength + ttlBytes;
}

/** The pair count, with TTLS_IN_WIRE when every TTL is the one the wire holds at its offset. */
function pairsField(m: StoredMessage): number {
  const t = m.ttls;
  const w = m.wire;
  for (let i = 0; i < t.length; i += 2) {
    const at = t[i];
    if (at + 4 > w.length || ((w[at] << 24) | (w[at + 1] << 16) | (w[at + 2] << 8) | w[at + 3]) >>> 0 !== t[i + 1]) return t.length / 2;
  }
  return (t.length / 2) | TTLS_IN_WIRE;
}

/** KEY_IN_WIRE when `wire` repeats all of `key` but its last byte at its question, else the key's length. */
function keyField(key: string, wire: Uint8Array): number {
  const n = key.length - 1;
  const nameLength = key.length - KEY_SUFFIX_BYTES;
  if (nameLength < 1 || wire.length < HEADER + n) return key.length;
  for (let i = 0; i < nameLength; i++) {
    const c = wire[HEADER + i];
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== key.charCodeAt(i)) return key.length;
  }
  for (let i = nameLength; i < n; i++) if (wire[HEADER + i] !== key.charCodeAt(i)) return key.length;
  return KEY_IN_WIRE;
}

export interface CacheEntry {
  readonly key: string;
  readonly message: StoredMessage;
  readonly storedAtMs: number;
  readonly expiresAtMs: number;
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
  /** False once the entry left the store: its handle then reads what it held at that moment. */
  readonly live: boolean;
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
  /** Arena pages evacuated to reclaim their holes. */
  compactions: number;
  /** The most entries one call moved into a grown hash index: what growth cost in one go. */
  indexMovedMost: number;
}

export interface CacheStore {
  get(key: string): CacheEntry | undefined;
  /** Looks an entry up without counting it as a use. */
  peek(key: string): CacheEntry | undefined;
  /**
   * Keeps `message` under `key`, evicting to stay within both bounds. An entry that alone
   * costs more than maxBytes is not kept (nor is the key's old entry): the returned entry is
   * then not in the store (`live` false).
   */
  set(key: string, message: StoredMessage, nowMs: number, ttlMs: number): CacheEntry;
  /** set() without the handle: the slot the entry took, or -1 when it was too large to keep. */
  put(key: string, message: StoredMessage, nowMs: number, ttlMs: number): number;
  delete(key: string): boolean;
  readonly size: number;
  /** What the entries held cost, by entryBytes(): never more than maxBytes. */
  readonly bytes: number;
  /** What the arena's pages take, holes included: at most 8/7 of the records, plus a page. */
  readonly arenaBytes: number;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly stats: CacheStoreStats;
  /** Every entry, least recently used first, as handles to read at once (see the function). */
  entries(): IterableIterator<CacheEntry>;

  // The query path's view: slot numbers, no object per lookup.
  /** The slot holding `key`, counted as a use (LRU), or -1. */
  find(key: string): number;
  storedAtMs(slot: number): number;
  expiresAtMs(slot: number): number;
  /** The slot's reply, copied out of the arena (the copy outlives any eviction). */
  messageAt(slot: number): StoredMessage;
  rcodeAt(slot: number): number;
  answerCountAt(slot: number): number;
  /**
   * The slot holding the answer to `q`'s question (the key parseQuery would give it), or -1,
   * read from the message's bytes: no key string (#11). Not counted as a use: see touch().
   */
  findQuery(q: QueryHeader): number;
  /** Counts the slot as just used (LRU), as find() does. */
  touch(slot: number): void;
  /** The bytes of the slot's stored reply. */
  wireBytesAt(slot: number): number;
  adAt(slot: number): boolean;
  /**
   * Copies the slot's reply into `out` with every TTL counted down by `ageSeconds` (never below
   * 0), as renderStored() does with messageAt(): the wire's length. `out` must hold it.
   */
  copyCountedDown(slot: number, out: Uint8Array, ageSeconds: number): number;
  /** Counts a hit on the slot with exponential decay; returns the new score. */
  addHit(slot: number, nowMs: number, halfLifeMs: number): number;
  /** A handle on the slot, for work that outlives the lookup (refreshes, stale answers). */
  handle(slot: number): CacheEntry;
  /** Every slot in use, least recently used first. */
  slots(): number[];
  /**
   * Slot numbers run from 0 to slotCount - 1, some of them free (inUse false): a snapshot walks
   * them in order, which reads the slot arrays front to back instead of along the LRU links.
   */
  readonly slotCount: number;
  inUse(slot: number): boolean;
  keyAt(slot: number): string;
  /** Changes whenever the slot's entry leaves: a slot list taken earlier can tell reused slots. */
  generationOf(slot: number): number;
  setPopularity(slot: number, score: number, atMs: number): void;
  /** Whether `key` is held, without a handle or a use. */
  has(key: string): boolean;
  /**
   * Makes room in the hash index for `entries` more (up to maxEntries) in one growth, before a
   * bulk insert (a snapshot load), instead of a doubling every time it is 70% full on the way:
   * each moves every entry held (a few per insert, see growIndexTo). Changes nothing the
   * entries show.
   */
  reserve(entries: number): void;
  popularityOf(slot: number): number;
  popularityAtMs(slot: number): number;
}

/** The decayed score of a hit count `score` as of `atMs`, seen at `nowMs`. */
export function decayed(score: number, atMs: number, nowMs: number, halfLifeMs: number): number {
  // A clock stepped backwards must not make old hits worth more.
  const elapsed = Math.max(0, nowMs - atMs);
  return score * 2 ** (-elapsed / halfLifeMs);
}

/** FNV-1a over the key's characters: cheap and well spread for short Latin-1 keys. */
function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h | 0;
}

const u16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const i32 = (b: Uint8Array, at: number) => (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];
function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 8;
  b[at + 1] = v;
}
function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}

/**
 * `retainAfterExpiryMs` keeps entries that long past their expiry (for stale answers): an
 * entry counts as expired, for eviction, only once that time has passed too. `maxBytes`
 * bounds the sum of entryBytes() over the entries held.
 */
export function createCacheStore(maxEntries: number, now: () => number, retainAfterExpiryMs = 0, maxBytes = Infinity): CacheStore {
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('cache: maxEntries must be a positive integer');
  if (maxBytes !== Infinity && (!Number.isInteger(maxBytes) || maxBytes < 1)) throw new RangeError('cache: maxBytes must be a positive integer');
  // The slot arrays come in chunks of SLOT_CHUNK slots, added as slots are first used: never
  // more than one chunk beyond what the entries need, and growing copies nothing.
  const F: Float64Array[] = [];
  const I: Int32Array[] = [];
  const fget = (s: number, k: number) => F[s >> SLOT_CHUNK_SHIFT][(s & SLOT_CHUNK_MASK) * F_STRIDE + k];
  const fset = (s: number, k: number, v: number) => {
    F[s >> SLOT_CHUNK_SHIFT][(s & SLOT_CHUNK_MASK) * F_STRIDE + k] = v;
  };
  const iget = (s: number, k: number) => I[s >> SLOT_CHUNK_SHIFT][(s & SLOT_CHUNK_MASK) * I_STRIDE + k];
  const iset = (s: number, k: number, v: number) => {
    I[s >> SLOT_CHUNK_SHIFT][(s & SLOT_CHUNK_MASK) * I_STRIDE + k] = v;
  };
  /** Slots never used yet start at `highWater`; freed ones are chained through I_NEWER. */
  let highWater = 0;
  let freeSlot = -1;
  let count = 0;

  // Slot + 1; 0 is empty. At most 70% full (linear probing stays short), at least 35% after growing.
  let index = new Int32Array(2048);
  let mask = index.length - 1;
  // While the index grows: the table it grows from, whose entries move to `index` a few
  // positions per insert (moveIndexSteps), from `moved` on. Lookups look in both until it is
  // empty. A moved or deleted entry leaves MOVED behind, never 0, so the runs of linear probing
  // stay whole for the entries not moved yet; nothing is ever inserted here.
  let oldIndex: Int32Array | null = null;
  let oldMask = 0;
  let moved = 0;

  const pages: Array<Uint8Array | null> = [];
  const pageUsed: number[] = [];
  const pageDead: number[] = [];
  const freePageIds: number[] = [];
  let spare: Uint8Array | null = null;
  let current = -1;
  let arenaBytes = 0;
  const toCompact: number[] = [];
  let compacting = false;

  const buckets = new Map<number, number>(); // bucket number -> head slot
  let newest = -1;
  let oldest = -1;
  let cursor = Math.floor(now() / BUCKET_MS);
  let bytes = 0;
  const stats: CacheStoreStats = { evictedExpired: 0, evictedLru: 0, cursorSteps: 0, evictedForBytes: 0, refusedTooLarge: 0, compactions: 0, indexMovedMost: 0 };

  // ---- the arena

  function newPageId(): number {
    return freePageIds.length > 0 ? freePageIds.pop()! : pages.length;
  }

  function openPage(): void {
    const id = newPageId();
    const page = spare ?? new Uint8Array(PAGE_BYTES);
    if (spare) spare = null;
    else arenaBytes += PAGE_BYTES;
    pages[id] = page;
    pageUsed[id] = 0;
    pageDead[id] = 0;
    const previous = current;
    current = id;
    // A page retired with holes made while it was current is evacuated now; later frees on
    // it would find it too, but it may never see another.
    if (previous !== -1 && pageDead[previous] * COMPACT_AT >= PAGE_BYTES) toCompact.push(previous);
  }

  /** Room for `length` bytes: page * PAGE_BYTES + offset. */
  function allocate(length: number): number {
    if (length > LARGE_RECORD_BYTES) {
      const id = newPageId();
      pages[id] = new Uint8Array(length);
      pageUsed[id] = length;
      pageDead[id] = 0;
      arenaBytes += length;
      return id * PAGE_BYTES;
    }
    if (current === -1 || pageUsed[current] + length > PAGE_BYTES) openPage();
    const at = pageUsed[current];
    pageUsed[current] = at + length;
    return current * PAGE_BYTES + at;
  }

  function releasePage(id: number): void {
    const page = pages[id]!;
    if (page.length === PAGE_BYTES && spare === null) spare = page;
    else arenaBytes -= page.length;
    pages[id] = null;
    freePageIds.push(id);
  }

  function freeRecord(record: number, length: number): void {
    const id = Math.floor(record / PAGE_BYTES);
    const page = pages[id]!;
    put32(page, record % PAGE_BYTES, -1);
    if (page.length !== PAGE_BYTES || length > LARGE_RECORD_BYTES) {
      releasePage(id);
      return;
    }
    pageDead[id] += length;
    if (id !== current && pageDead[id] * COMPACT_AT >= PAGE_BYTES && pageDead[id] - length < PAGE_BYTES / COMPACT_AT) toCompact.push(id);
  }

  /** Copies the live records of the queued pages to the current page, then frees them. */
  function compact(): void {
    if (compacting) return;
    compacting = true;
    while (toCompact.length > 0) {
      const id = toCompact.pop()!;
      const page = pages[id];
      if (!page || id === current) continue;
      const used = pageUsed[id];
      let at = 0;
      while (at < used) {
        const slot = i32(page, at);
        const length = recordBytes(u16(page, at + 4), u16(page, at + 6), u16(page, at + 8));
        if (slot >= 0) {
          const to = allocate(length);
          pages[Math.floor(to / PAGE_BYTES)]!.set(page.subarray(at, at + length), to % PAGE_BYTES);
          iset(slot, I_RECORD, to);
        }
        at += length;
      }
      releasePage(id);
      stats.compactions++;
    }
    compacting = false;
  }

  // ---- records

  /** `field` and `pairs` are keyField() and pairsField() of the entry, which put() has for its cost. */
  function writeRecord(slot: number, key: string, m: StoredMessage, field: number, pairs: number): number {
    const length = recordBytes(field, m.wire.length, pairs);
    const record = allocate(length);
    const page = pages[Math.floor(record / PAGE_BYTES)]!;
    let p = record % PAGE_BYTES;
    put32(page, p, slot);
    put16(page, p + 4, field);
    put16(page, p + 6, m.wire.length);
    put16(page, p + 8, pairs);
    page[p + 10] = m.rcode;
    page[p + 11] = m.ad ? 1 : 0;
    put16(page, p + 12, m.answerCount);
    put32(page, p + 14, m.minAnswerTtl);
    put32(page, p + 18, m.negativeTtl);
    p += RECORD_HEADER_BYTES;
    if (field & KEY_IN_WIRE) {
      page[p++] = key.charCodeAt(key.length - 1);
      page.set(m.wire, p);
      // The question as the key has it: folded.
      for (let i = 0; i < key.length - KEY_SUFFIX_BYTES; i++) page[p + HEADER + i] = key.charCodeAt(i);
    } else {
      for (let i = 0; i < key.length; i++) page[p + i] = key.charCodeAt(i);
      p += key.length;
      page.set(m.wire, p);
    }
    p += m.wire.length;
    const t = m.ttls;
    if (pairs & TTLS_IN_WIRE) {
      for (let i = 0; i < t.length; i += 2, p += 2) put16(page, p, t[i]);
    } else {
      for (let i = 0; i < t.length; i += 2, p += TTL_PAIR_BYTES) {
        put16(page, p, t[i]);
        put32(page, p + 2, t[i + 1]);
      }
    }
    return record;
  }

  function pageOf(slot: number): Uint8Array {
    return pages[Math.floor(iget(slot, I_RECORD) / PAGE_BYTES)]!;
  }
  function startOf(slot: number): number {
    return iget(slot, I_RECORD) % PAGE_BYTES;
  }

  function keyMatches(slot: number, key: string): boolean {
    const page = pageOf(slot);
    const at = startOf(slot);
    const field = u16(page, at + 4);
    const k = at + RECORD_HEADER_BYTES;
    if (field & KEY_IN_WIRE) {
      const n = key.length - 1;
      if (n < KEY_SUFFIX_BYTES || page[k] !== key.charCodeAt(n) || u16(page, at + 6) < HEADER + n) return false;
      // A name ends at its root label, so n equal bytes are the same question, not a prefix.
      const q = k + 1 + HEADER;
      for (let i = 0; i < n; i++) if (page[q + i] !== key.charCodeAt(i)) return false;
      return true;
    }
    if (field !== key.length) return false;
    for (let i = 0; i < key.length; i++) if (page[k + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  function keyOf(slot: number): string {
    const page = pageOf(slot);
    const at = startOf(slot);
    const field = u16(page, at + 4);
    const k = at + RECORD_HEADER_BYTES;
    if (!(field & KEY_IN_WIRE)) return String.fromCharCode.apply(null, page.subarray(k, k + field) as unknown as number[]);
    // The name and its type and class from the question, then the stored last byte.
    const q = k + 1 + HEADER;
    let end = q;
    while (page[end] !== 0) end += page[end] + 1;
    end += 1 + KEY_SUFFIX_BYTES - 1;
    return String.fromCharCode.apply(null, page.subarray(q, end) as unknown as number[]) + String.fromCharCode(page[k]);
  }

  // The header of the record readRecord() read last, in variables rather than an object, since
  // the hit path reads one per query (#11: a hit allocates nothing).
  let rAt = 0;
  /** Where its wire starts in the page, and how long it is. */
  let rWire = 0;
  let rWireLength = 0;
  /** Its TTL pairs: how many, and whether only their offsets are stored (the seconds in the wire). */
  let rPairs = 0;
  let rInWire = false;

  /** Reads `slot`'s record header into the variables above; returns the page it is in. */
  function readRecord(slot: number): Uint8Array {
    const page = pageOf(slot);
    const at = startOf(slot);
    const field = u16(page, at + 4);
    const pairs = u16(page, at + 8);
    rAt = at;
    rWire = at + RECORD_HEADER_BYTES + (field & KEY_IN_WIRE ? 1 : field);
    rWireLength = u16(page, at + 6);
    rInWire = (pairs & TTLS_IN_WIRE) !== 0;
    rPairs = pairs & ~TTLS_IN_WIRE;
    return page;
  }

  function messageAt(slot: number): StoredMessage {
    const page = readRecord(slot);
    const at = rAt;
    const w = rWire;
    const wireLength = rWireLength;
    const inWire = rInWire;
    const n = rPairs;
    const wire = page.slice(w, w + wireLength);
    const ttls: number[] = new Array(2 * n);
    let p = w + wireLength;
    for (let i = 0; i < 2 * n; i += 2) {
      const offset = u16(page, p);
      ttls[i] = offset;
      ttls[i + 1] = i32(page, inWire ? w + offset : p + 2) >>> 0;
      p += inWire ? 2 : TTL_PAIR_BYTES;
    }
    return {
      wire,
      ttls,
      rcode: page[at + 10],
      ad: page[at + 11] === 1,
      answerCount: u16(page, at + 12),
      minAnswerTtl: i32(page, at + 14),
      negativeTtl: i32(page, at + 18),
    };
  }

  function recordLengthOf(slot: number): number {
    const page = pageOf(slot);
    const at = startOf(slot);
    return recordBytes(u16(page, at + 4), u16(page, at + 6), u16(page, at + 8));
  }

  // ---- the hash index

  function lookup(key: string): number {
    return lookupHashed(key, hashKey(key));
  }

  function lookupHashed(key: string, h: number): number {
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = index[i] - 1;
      if (s < 0) break;
      if (iget(s, I_HASH) === h && keyMatches(s, key)) return s;
    }
    if (oldIndex === null) return -1;
    for (let i = h & oldMask; ; i = (i + 1) & oldMask) {
      const v = oldIndex[i];
      if (v === 0) return -1;
      const s = v - 1;
      if (v !== MOVED && iget(s, I_HASH) === h && keyMatches(s, key)) return s;
    }
  }

  /** hashKey() of the key parseQuery gives `q`, read from its bytes: the name folded, then the suffix. */
  function hashQuery(q: QueryHeader, flags: number): number {
    const b = q.bytes;
    let h = 0x811c9dc5;
    for (let i = HEADER; i < q.nameEnd; i++) {
      const c = b[i];
      h = Math.imul(h ^ (c >= 0x41 && c <= 0x5a ? c | 0x20 : c), 0x01000193);
    }
    // Type and class as they follow the name in the question, then the DO/CD byte.
    for (let i = q.nameEnd; i < q.nameEnd + 4; i++) h = Math.imul(h ^ b[i], 0x01000193);
    h = Math.imul(h ^ flags, 0x01000193);
    return h | 0;
  }

  /** keyMatches() for the key of `q`, compared byte for byte with the message. */
  function queryMatches(slot: number, q: QueryHeader, flags: number): boolean {
    const page = pageOf(slot);
    const at = startOf(slot);
    const field = u16(page, at + 4);
    const b = q.bytes;
    // The key: the name, type and class (nameEnd - 12 + 4 bytes), then the flags byte.
    const n = q.nameEnd - HEADER + 4;
    let k = at + RECORD_HEADER_BYTES;
    if (field & KEY_IN_WIRE) {
      if (page[k] !== flags || u16(page, at + 6) < HEADER + n) return false;
      k += 1 + HEADER;
    } else {
      if (field !== n + 1 || page[k + n] !== flags) return false;
    }
    const nameBytes = q.nameEnd - HEADER;
    for (let i = 0; i < nameBytes; i++) {
      const c = b[HEADER + i];
      if (page[k + i] !== (c >= 0x41 && c <= 0x5a ? c | 0x20 : c)) return false;
    }
    for (let i = nameBytes; i < n; i++) if (page[k + i] !== b[HEADER + i]) return false;
    return true;
  }

  function findQuery(q: QueryHeader): number {
    const flags = keyFlags(q);
    const h = hashQuery(q, flags);
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = index[i] - 1;
      if (s < 0) break;
      if (iget(s, I_HASH) === h && queryMatches(s, q, flags)) return s;
    }
    if (oldIndex === null) return -1;
    for (let i = h & oldMask; ; i = (i + 1) & oldMask) {
      const v = oldIndex[i];
      if (v === 0) return -1;
      const s = v - 1;
      if (v !== MOVED && iget(s, I_HASH) === h && queryMatches(s, q, flags)) return s;
    }
  }

  function copyCountedDown(slot: number, out: Uint8Array, ageSeconds: number): number {
    const page = readRecord(slot);
    const w = rWire;
    const wireLength = rWireLength;
    const inWire = rInWire;
    const n = rPairs;
    for (let i = 0; i < wireLength; i++) out[i] = page[w + i];
    // As renderStored: a clock stepped backwards gives a negative age; TTLs never count up.
    const age = Math.max(0, ageSeconds);
    let p = w + wireLength;
    for (let i = 0; i < n; i++) {
      const offset = u16(page, p);
      const seconds = i32(page, inWire ? w + offset : p + 2) >>> 0;
      put32(out, offset, Math.max(0, seconds - age));
      p += inWire ? 2 : TTL_PAIR_BYTES;
    }
    return wireLength;
  }

  function indexInsert(slot: number, h: number): void {
    let i = h & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = slot + 1;
  }

  function indexRemove(slot: number): void {
    let i = iget(slot, I_HASH) & mask;
    for (;;) {
      const v = index[i];
      if (v === slot + 1) break;
      if (v === 0) {
        // Not moved yet: it leaves MOVED in the old table, which nothing else changes.
        let o = iget(slot, I_HASH) & oldMask;
        while (oldIndex![o] !== slot + 1) o = (o + 1) & oldMask;
        oldIndex![o] = MOVED;
        return;
      }
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: move later members of the run into the hole when their home
    // position allows, so lookups never need tombstones.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const s = index[j] - 1;
      if (s < 0) break;
      const home = iget(s, I_HASH) & mask;
      // Can the entry at j move to i? Only if its home is not cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        index[i] = index[j];
        i = j;
      }
    }
    index[i] = 0;
  }

  /**
   * Starts moving every entry to a table of `length` positions. Rehashing all at once held
   * answering ~10 ms at 90,000 entries, 20-25 ms at a million (#11): instead the old table is
   * kept and emptied MOVE_STEPS positions per insert (moveIndexSteps), and lookups look in
   * both meanwhile. Growth comes at 70% full into twice the room, so the next one is at least
   * 0.7 x (old length) inserts away: long after the last old position has been emptied.
   */
  function growIndexTo(length: number): void {
    // Never two moves at once (only reserve() could ask for that): the rest of this one first.
    if (oldIndex !== null) moveIndexSteps(oldIndex.length);
    oldIndex = index;
    oldMask = mask;
    moved = 0;
    index = new Int32Array(length);
    mask = length - 1;
  }

  /** Moves the entries at the next `steps` positions of the old table, if one is being emptied. */
  function moveIndexSteps(steps: number): void {
    const from = oldIndex;
    if (from === null) return;
    const end = Math.min(from.length, moved + steps);
    let n = 0;
    for (let i = moved; i < end; i++) {
      const v = from[i];
      if (v > 0) {
        indexInsert(v - 1, iget(v - 1, I_HASH));
        from[i] = MOVED;
        n++;
      }
    }
    moved = end;
    if (n > stats.indexMovedMost) stats.indexMovedMost = n;
    if (moved === from.length) oldIndex = null;
  }

  function reserve(more: number): void {
    const want = Math.min(count + Math.max(0, more), maxEntries);
    let length = index.length;
    while (want * 10 > length * 7) length *= 2;
    if (length !== index.length) growIndexTo(length);
  }

  // ---- slots

  function takeSlot(): number {
    if (freeSlot !== -1) {
      const s = freeSlot;
      freeSlot = iget(s, I_NEWER);
      return s;
    }
    if ((highWater & SLOT_CHUNK_MASK) === 0) {
      F.push(new Float64Array(SLOT_CHUNK * F_STRIDE));
      I.push(new Int32Array(SLOT_CHUNK * I_STRIDE));
    }
    const s = highWater++;
    iset(s, I_GEN, 0);
    return s;
  }

  function unlinkRecency(s: number): void {
    const newer = iget(s, I_NEWER);
    const older = iget(s, I_OLDER);
    if (newer !== -1) iset(newer, I_OLDER, older);
    else newest = older;
    if (older !== -1) iset(older, I_NEWER, newer);
    else oldest = newer;
  }

  function pushNewest(s: number): void {
    iset(s, I_OLDER, newest);
    iset(s, I_NEWER, -1);
    if (newest !== -1) iset(newest, I_NEWER, s);
    newest = s;
    if (oldest === -1) oldest = s;
  }

  function unlinkBucket(s: number): void {
    const prev = iget(s, I_BUCKET_PREV);
    const next = iget(s, I_BUCKET_NEXT);
    if (prev !== -1) iset(prev, I_BUCKET_NEXT, next);
    else if (next === -1) buckets.delete(iget(s, I_BUCKET));
    else buckets.set(iget(s, I_BUCKET), next);
    if (next !== -1) iset(next, I_BUCKET_PREV, prev);
  }

  function linkBucket(s: number, bucket: number): void {
    iset(s, I_BUCKET, bucket);
    const head = buckets.get(bucket) ?? -1;
    iset(s, I_BUCKET_PREV, -1);
    iset(s, I_BUCKET_NEXT, head);
    if (head !== -1) iset(head, I_BUCKET_PREV, s);
    buckets.set(bucket, s);
    // A clock stepped backwards can file entries behind the cursor; pull it back to them.
    if (bucket < cursor) cursor = bucket;
  }

  function remove(s: number): void {
    bytes -= ENTRY_OVERHEAD_BYTES + recordLengthOf(s);
    indexRemove(s);
    unlinkRecency(s);
    unlinkBucket(s);
    freeRecord(iget(s, I_RECORD), recordLengthOf(s));
    // A new generation: handles on the old tenant see it gone.
    iset(s, I_GEN, ((iget(s, I_GEN) >>> 1) + 1) << 1);
    iset(s, I_NEWER, freeSlot);
    // No record: what tells a free slot from a used one (slotCount, inUse).
    iset(s, I_RECORD, -1);
    freeSlot = s;
    count--;
  }

  /** An entry whose whole bucket lies in the past, or -1. */
  function oldestExpired(nowMs: number): number {
    const current = Math.floor(nowMs / BUCKET_MS);
    if (buckets.size === 0) {
      cursor = current;
      return -1;
    }
    while (cursor < current) {
      stats.cursorSteps++;
      const head = buckets.get(cursor);
      if (head !== undefined) return head;
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
    return -1;
  }

  function makeRoom(nowMs: number): void {
    const expired = oldestExpired(nowMs);
    if (expired !== -1) {
      remove(expired);
      stats.evictedExpired++;
    } else if (oldest !== -1) {
      remove(oldest);
      stats.evictedLru++;
    }
  }

  // ---- handles

  /** What a handle from entries() reads for a message once its entry is gone. */
  const GONE: StoredMessage = { wire: new Uint8Array(0), ttls: [], rcode: 0, ad: false, answerCount: 0, minAnswerTtl: 0, negativeTtl: 0 };

  /** What a handle reads once its entry is gone: the values it last saw. */
  interface Kept {
    key: string;
    message: StoredMessage;
    storedAtMs: number;
    expiresAtMs: number;
    failedAtMs: number;
    revalidating: boolean;
    popularity: number;
    popularityAtMs: number;
  }

  function keep(slot: number): Kept {
    return {
      key: keyOf(slot),
      message: messageAt(slot),
      storedAtMs: fget(slot, F_STORED),
      expiresAtMs: fget(slot, F_EXPIRES),
      failedAtMs: fget(slot, F_FAILED),
      revalidating: (iget(slot, I_GEN) & 1) === 1,
      popularity: fget(slot, F_POPULARITY),
      popularityAtMs: fget(slot, F_POPULARITY_AT),
    };
  }

  /**
   * A handle keeps the key and message it was made with (both immutable for an entry), and
   * reads the mutable fields from the slot while its generation matches; after that, from the
   * copy it took of them when made or last written.
   */
  class Handle implements CacheEntry {
    readonly #slot: number;
    readonly #gen: number;
    /** Null for a handle from entries(): it reads the slot only, while the entry is there. */
    readonly #kept: Kept | null;
    #key: string | undefined;
    #message: StoredMessage | undefined;
    constructor(slot: number, gen: number, kept: Kept | null) {
      this.#slot = slot;
      this.#gen = gen;
      this.#kept = kept;
    }
    get live(): boolean {
      return this.#slot < highWater && iget(this.#slot, I_GEN) >>> 1 === this.#gen;
    }
    get key(): string {
      if (this.#kept) return this.#kept.key;
      this.#key ??= this.live ? keyOf(this.#slot) : '';
      return this.#key;
    }
    get message(): StoredMessage {
      if (this.#kept) return this.#kept.message;
      this.#message ??= this.live ? messageAt(this.#slot) : GONE;
      return this.#message;
    }
    #read(at: number, name: 'failedAtMs' | 'popularity' | 'popularityAtMs' | 'storedAtMs' | 'expiresAtMs'): number {
      return this.live ? fget(this.#slot, at) : this.#kept ? this.#kept[name] : NaN;
    }
    #write(at: number, name: 'failedAtMs' | 'popularity' | 'popularityAtMs', v: number): void {
      if (this.#kept) this.#kept[name] = v;
      if (this.live) fset(this.#slot, at, v);
    }
    get storedAtMs(): number {
      return this.#read(F_STORED, 'storedAtMs');
    }
    get expiresAtMs(): number {
      return this.#read(F_EXPIRES, 'expiresAtMs');
    }
    get failedAtMs(): number {
      return this.#read(F_FAILED, 'failedAtMs');
    }
    set failedAtMs(v: number) {
      this.#write(F_FAILED, 'failedAtMs', v);
    }
    get popularity(): number {
      return this.#read(F_POPULARITY, 'popularity');
    }
    set popularity(v: number) {
      this.#write(F_POPULARITY, 'popularity', v);
    }
    get popularityAtMs(): number {
      return this.#read(F_POPULARITY_AT, 'popularityAtMs');
    }
    set popularityAtMs(v: number) {
      this.#write(F_POPULARITY_AT, 'popularityAtMs', v);
    }
    get revalidating(): boolean {
      return this.live ? (iget(this.#slot, I_GEN) & 1) === 1 : (this.#kept?.revalidating ?? false);
    }
    set revalidating(v: boolean) {
      if (this.#kept) this.#kept.revalidating = v;
      if (this.live) iset(this.#slot, I_GEN, (iget(this.#slot, I_GEN) & ~1) | (v ? 1 : 0));
    }
  }

  function makeHandle(slot: number, gen: number, kept: Kept): CacheEntry {
    return new Handle(slot, gen, kept);
  }

  function handle(slot: number): CacheEntry {
    return makeHandle(slot, iget(slot, I_GEN) >>> 1, keep(slot));
  }

  function touch(s: number): void {
    if (s !== newest) {
      unlinkRecency(s);
      pushNewest(s);
    }
  }

  function set(key: string, message: StoredMessage, nowMs: number, ttlMs: number): CacheEntry {
    const s = put(key, message, nowMs, ttlMs);
    if (s !== -1) return handle(s);
    // Not kept: a handle that was never live, reading what it was given.
    const kept: Kept = { key, message, storedAtMs: nowMs, expiresAtMs: nowMs + ttlMs, failedAtMs: -Infinity, revalidating: false, popularity: refusedPopularity, popularityAtMs: refusedPopularityAtMs };
    return makeHandle(0, -1, kept);
  }

  let refusedPopularity = 0;
  let refusedPopularityAtMs = 0;

  function put(key: string, message: StoredMessage, nowMs: number, ttlMs: number): number {
    const h = hashKey(key);
    const existing = lookupHashed(key, h);
    // A refresh keeps the popularity the name had earned.
    const popularity = existing === -1 ? 0 : fget(existing, F_POPULARITY);
    const popularityAtMs = existing === -1 ? nowMs : fget(existing, F_POPULARITY_AT);
    if (existing !== -1) remove(existing);
    // entryBytes(), with the fields kept for writeRecord: each walks the key or the TTLs.
    const field = keyField(key, message.wire);
    const pairs = pairsField(message);
    const cost = ENTRY_OVERHEAD_BYTES + recordBytes(field, message.wire.length, pairs);
    const expiresAtMs = nowMs + ttlMs;
    if (cost > maxBytes) {
      stats.refusedTooLarge++;
      compact();
      refusedPopularity = popularity;
      refusedPopularityAtMs = popularityAtMs;
      return -1;
    }
    if (count >= maxEntries) makeRoom(nowMs);
    while (bytes + cost > maxBytes) {
      makeRoom(nowMs);
      stats.evictedForBytes++;
    }
    const s = takeSlot();
    fset(s, F_STORED, nowMs);
    fset(s, F_EXPIRES, expiresAtMs);
    fset(s, F_POPULARITY, popularity);
    fset(s, F_POPULARITY_AT, popularityAtMs);
    fset(s, F_FAILED, -Infinity);
    iset(s, I_GEN, iget(s, I_GEN) & ~1);
    iset(s, I_HASH, h);
    iset(s, I_RECORD, writeRecord(s, key, message, field, pairs));
    count++;
    moveIndexSteps(MOVE_STEPS);
    if (count * 10 > index.length * 7) growIndexTo(index.length * 2);
    indexInsert(s, h);
    bytes += cost;
    pushNewest(s);
    linkBucket(s, Math.floor((expiresAtMs + retainAfterExpiryMs) / BUCKET_MS));
    compact();
    return s;
  }

  /**
   * Handles that copy nothing until read: a look over the whole cache (prefetch after a load,
   * the status page) costs one small object per entry, not a copy of every reply. They are for
   * reading at once; one read after its entry left gives no key, an empty message and NaN times.
   */
  function* entries(): IterableIterator<CacheEntry> {
    // Along the links, without a list of slots first: the next is read before the handle is
    // given, and the walk is meant to be finished before the cache changes.
    for (let s = oldest; s !== -1; ) {
      const next = iget(s, I_NEWER);
      yield new Handle(s, iget(s, I_GEN) >>> 1, null);
      s = next;
    }
  }

  function slots(): number[] {
    const out: number[] = [];
    // Least recently used first: a snapshot restored in this order comes back in the same order.
    for (let s = oldest; s !== -1; s = iget(s, I_NEWER)) out.push(s);
    return out;
  }

  return {
    get(key) {
      const s = lookup(key);
      if (s === -1) return undefined;
      touch(s);
      return handle(s);
    },
    peek(key) {
      const s = lookup(key);
      return s === -1 ? undefined : handle(s);
    },
    set,
    put,
    delete(key) {
      const s = lookup(key);
      if (s === -1) return false;
      remove(s);
      compact();
      return true;
    },
    get size() {
      return count;
    },
    get bytes() {
      return bytes;
    },
    get arenaBytes() {
      return arenaBytes;
    },
    maxEntries,
    maxBytes,
    stats,
    entries,
    find(key) {
      const s = lookup(key);
      if (s !== -1) touch(s);
      return s;
    },
    findQuery,
    touch,
    wireBytesAt: (s) => u16(pageOf(s), startOf(s) + 6),
    adAt: (s) => pageOf(s)[startOf(s) + 11] === 1,
    copyCountedDown,
    storedAtMs: (s) => fget(s, F_STORED),
    expiresAtMs: (s) => fget(s, F_EXPIRES),
    messageAt,
    rcodeAt: (s) => pageOf(s)[startOf(s) + 10],
    answerCountAt: (s) => u16(pageOf(s), startOf(s) + 12),
    addHit(s, nowMs, halfLifeMs) {
      const score = decayed(fget(s, F_POPULARITY), fget(s, F_POPULARITY_AT), nowMs, halfLifeMs) + 1;
      fset(s, F_POPULARITY, score);
      fset(s, F_POPULARITY_AT, nowMs);
      return score;
    },
    handle,
    slots,
    keyAt: keyOf,
    get slotCount() {
      return highWater;
    },
    inUse: (s) => s >= 0 && s < highWater && iget(s, I_RECORD) !== -1,
    generationOf: (s) => iget(s, I_GEN) >>> 1,
    setPopularity(s, score, atMs) {
      fset(s, F_POPULARITY, score);
      fset(s, F_POPULARITY_AT, atMs);
    },
    has: (key) => lookup(key) !== -1,
    reserve,
    popularityOf: (s) => fget(s, F_POPULARITY),
    popularityAtMs: (s) => fget(s, F_POPULARITY_AT),
  };
}
