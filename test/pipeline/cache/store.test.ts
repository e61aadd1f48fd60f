import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredMessage } from '../../../src/core/wire/message.ts';
import { ENTRY_OVERHEAD_BYTES, createCacheStore, entryBytes, type CacheStore } from '../../../src/pipeline/cache/store.ts';
import { createPrng } from '../../helpers/prng.ts';
import { scanMessage, toStored } from '../../../src/core/wire/message.ts';
import { parseQuery } from '../../../src/core/wire/query.ts';
import { query, reply } from '../../helpers/packets.ts';

const T0 = 1_700_000_000_000;
const BUCKET_MS = 16_000;
const HOUR = 3_600_000;

function message(tag: number): StoredMessage {
  return { wire: Uint8Array.from([tag]), ttls: [], rcode: 0, ad: false, answerCount: 1, minAnswerTtl: 60, negativeTtl: -1 };
}

function store(maxEntries: number, startMs = T0, maxBytes = Infinity): { s: CacheStore; clock: { now: number } } {
  const clock = { now: startMs };
  return { s: createCacheStore(maxEntries, () => clock.now, 0, maxBytes), clock };
}

/** A message of `wireBytes` bytes and `pairs` TTL pairs. */
function sized(wireBytes: number, pairs = 1, tag = 0): StoredMessage {
  const wire = new Uint8Array(wireBytes);
  wire[0] = tag;
  return { wire, ttls: Array.from({ length: 2 * pairs }, (_, i) => i), rcode: 0, ad: false, answerCount: 1, minAnswerTtl: 60, negativeTtl: -1 };
}

/** The cost of a one-letter key with a 100-byte, one-pair message: the unit of the byte tests. */
const UNIT = entryBytes('a', sized(100));

const keys = (s: CacheStore) => [...s.entries()].map((e) => e.key).sort();

describe('cache store: basics', () => {
  it('keeps what it is given, with its times', () => {
    const { s } = store(10);
    const e = s.set('a', message(1), T0, 60_000);
    assert.deepEqual(s.get('a')!.message, e.message);
    assert.equal(s.get('a')!.key, 'a');
    assert.equal(e.storedAtMs, T0);
    assert.equal(e.expiresAtMs, T0 + 60_000);
    assert.equal(s.get('b'), undefined);
    assert.equal(s.size, 1);
  });

  it('rejects a bound that is not a positive integer', () => {
    assert.throws(() => createCacheStore(0, () => T0), RangeError);
    assert.throws(() => createCacheStore(2.5, () => T0), RangeError);
  });

  it('replaces an existing key in place: no eviction, new message and expiry', () => {
    const { s } = store(2);
    s.set('a', message(1), T0, 60_000);
    s.set('b', message(2), T0, 60_000);
    s.set('a', message(3), T0 + 1000, 120_000);
    assert.equal(s.size, 2);
    assert.equal(s.stats.evictedLru + s.stats.evictedExpired, 0);
    assert.equal(s.peek('a')!.message.wire[0], 3);
    assert.equal(s.peek('a')!.expiresAtMs, T0 + 121_000);
  });

  it('forgets the old expiry of a replaced key', () => {
    const { s } = store(2);
    s.set('a', message(1), T0, 1_000);
    s.set('a', message(2), T0, 10 * HOUR);
    s.set('b', message(3), T0, 10 * HOUR);
    // a's first expiry bucket is long past; a must not be evicted as expired through it.
    s.set('c', message(4), T0 + HOUR, 10 * HOUR);
    assert.equal(s.stats.evictedExpired, 0);
    assert.deepEqual(keys(s), ['b', 'c'], 'a is the least recently used');
  });

  it('deletes a key, and says whether it was there', () => {
    const { s } = store(2);
    s.set('a', message(1), T0, 1000);
    assert.equal(s.delete('a'), true);
    assert.equal(s.delete('a'), false);
    assert.equal(s.size, 0);
    s.set('b', message(2), T0, 1000);
    s.set('c', message(3), T0, 1000);
    s.set('d', message(4), T0, 1000);
    assert.deepEqual(keys(s), ['c', 'd']);
  });
});

describe('cache store: making room', () => {
  it('evicts the least recently used entry when nothing has expired', () => {
    const { s } = store(3);
    for (const k of ['a', 'b', 'c']) s.set(k, message(0), T0, HOUR);
    s.get('a');
    s.set('d', message(0), T0, HOUR);
    assert.deepEqual(keys(s), ['a', 'c', 'd']);
    s.set('e', message(0), T0, HOUR);
    assert.deepEqual(keys(s), ['a', 'd', 'e']);
    assert.equal(s.stats.evictedLru, 2);
  });

  it('does not count a peek as a use', () => {
    const { s } = store(2);
    s.set('a', message(0), T0, HOUR);
    s.set('b', message(0), T0, HOUR);
    s.peek('a');
    s.set('c', message(0), T0, HOUR);
    assert.deepEqual(keys(s), ['b', 'c']);
  });

  it('evicts an expired entry before the least recently used one', () => {
    const { s, clock } = store(3);
    s.set('short', message(0), T0, 10_000);
    s.set('b', message(0), T0, HOUR);
    s.set('c', message(0), T0, HOUR);
    s.get('short'); // most recently used, but expired soon
    clock.now = T0 + 40_000;
    s.set('d', message(0), clock.now, HOUR);
    assert.deepEqual(keys(s), ['b', 'c', 'd']);
    assert.equal(s.stats.evictedExpired, 1);
    assert.equal(s.stats.evictedLru, 0);
  });

  it('evicts from the oldest expired bucket first', () => {
    const { s, clock } = store(3);
    s.set('later', message(0), T0, 5 * 60_000);
    s.set('sooner', message(0), T0, 60_000);
    s.set('live', message(0), T0, HOUR);
    clock.now = T0 + 10 * 60_000;
    s.set('x', message(0), clock.now, HOUR);
    assert.deepEqual(keys(s), ['later', 'live', 'x']);
    s.set('y', message(0), clock.now, HOUR);
    assert.deepEqual(keys(s), ['live', 'x', 'y']);
    assert.equal(s.stats.evictedExpired, 2);
  });

  it('takes the LRU entry while an expired entry still shares the current 16 s bucket', () => {
    const { s, clock } = store(2, Math.ceil(T0 / BUCKET_MS) * BUCKET_MS);
    const start = clock.now;
    s.set('soon', message(0), start, 1_000);
    s.set('old', message(0), start, HOUR);
    s.get('soon');
    clock.now = start + 2_000; // 'soon' has expired, but its bucket is the current one
    s.set('new', message(0), clock.now, HOUR);
    assert.deepEqual(keys(s), ['new', 'soon']);
    assert.equal(s.stats.evictedLru, 1);
  });

  it('still finds expired entries after the clock steps backwards', () => {
    const { s, clock } = store(3);
    s.set('a', message(0), T0, HOUR);
    s.set('b', message(0), T0, HOUR);
    clock.now = T0 - 24 * HOUR; // an NTP step back by a day
    s.set('c', message(0), clock.now, 10_000);
    clock.now += 60_000;
    s.set('d', message(0), clock.now, HOUR);
    assert.deepEqual(keys(s), ['a', 'b', 'd'], 'c expired at the stepped-back time and goes first');
    assert.equal(s.stats.evictedExpired, 1);
  });

  it('#2 - stays cheap when the clock jumps forward years with a full cache (router booting at 1970)', () => {
    const { s, clock } = store(1000, 0);
    for (let i = 0; i < 1000; i++) s.set(`boot${i}`, message(0), clock.now, (1 + (i % 50)) * 60_000);
    clock.now = T0; // NTP sets the real time: 2023
    const before = s.stats.cursorSteps;
    for (let i = 0; i < 2000; i++) s.set(`new${i}`, message(0), clock.now, ((i % 100) + 1) * 60_000);
    assert.equal(s.stats.evictedExpired, 1000, 'the entries from boot time expired and go first');
    assert.ok(s.stats.cursorSteps - before < 50_000, `${s.stats.cursorSteps - before} cursor steps for 2000 inserts`);
  });

  it('#2 - stays cheap when the clock jumps forward with fresh entries present', () => {
    const { s, clock } = store(100);
    for (let i = 0; i < 100; i++) s.set(`a${i}`, message(0), clock.now, 86_400_000);
    clock.now += 5 * 365 * 24 * HOUR;
    const before = s.stats.cursorSteps;
    s.set('b', message(0), clock.now, 60_000);
    assert.ok(s.stats.cursorSteps - before <= 200, `${s.stats.cursorSteps - before} cursor steps for one insert`);
    assert.equal(s.stats.evictedExpired, 1);
  });
});

describe('cache store: invariants over long random runs', () => {
  it('matches a reference model: bound kept, victims expired-first then LRU (seed 0x5eed)', () => {
    const rnd = createPrng(0x5eed);
    const MAX = 40;
    const { s, clock } = store(MAX);
    // The model: recency order (oldest first) and expiry per key.
    let order: string[] = [];
    const expiry = new Map<string, number>();
    const touch = (k: string) => {
      order = order.filter((x) => x !== k);
      order.push(k);
    };
    for (let step = 0; step < 30_000; step++) {
      const roll = rnd.next();
      if (roll < 0.02) clock.now -= rnd.int(2 * HOUR); // clock stepped back
      else clock.now += rnd.int(roll < 0.1 ? 10 * 60_000 : 3_000);
      const k = `k${rnd.int(120)}`;
      const op = rnd.next();
      if (op < 0.6) {
        const ttl = rnd.pick([1_000, 30_000, 300_000, HOUR, 24 * HOUR]);
        const current = Math.floor(clock.now / BUCKET_MS);
        let victims: string[] = [];
        if (!expiry.has(k) && expiry.size >= MAX) {
          const expiredBuckets = [...expiry.values()].map((e) => Math.floor(e / BUCKET_MS)).filter((b) => b < current);
          if (expiredBuckets.length > 0) {
            const lowest = Math.min(...expiredBuckets);
            victims = [...expiry].filter(([, e]) => Math.floor(e / BUCKET_MS) === lowest).map(([key]) => key);
          } else victims = [order[0]];
        }
        const before = new Set(expiry.keys());
        s.set(k, message(step & 0xff), clock.now, ttl);
        expiry.set(k, clock.now + ttl);
        touch(k);
        if (victims.length > 0) {
          const gone = [...before].filter((x) => x !== k && !s.peek(x));
          assert.equal(gone.length, 1, `step ${step}: exactly one eviction`);
          assert.ok(victims.includes(gone[0]), `step ${step}: evicted ${gone[0]}, expected one of ${victims.join(',')}`);
          expiry.delete(gone[0]);
          order = order.filter((x) => x !== gone[0]);
        }
      } else if (op < 0.9) {
        const e = s.get(k);
        assert.equal(e !== undefined, expiry.has(k), `step ${step}: get ${k}`);
        if (e) {
          assert.equal(e.key, k);
          assert.equal(e.expiresAtMs, expiry.get(k));
          touch(k);
        }
      } else {
        assert.equal(s.delete(k), expiry.delete(k), `step ${step}: delete ${k}`);
        order = order.filter((x) => x !== k);
      }
      assert.ok(s.size <= MAX, `step ${step}: size ${s.size} over ${MAX}`);
      assert.equal(s.size, expiry.size, `step ${step}: size`);
    }
  });

  it('does constant work per insert when filling 200k entries into a full cache', () => {
    const rnd = createPrng(0xc0ffee);
    const MAX = 5_000;
    const { s, clock } = store(MAX);
    for (let i = 0; i < MAX; i++) s.set(`warm${i}`, message(0), clock.now, rnd.range(1, 86_400) * 1000);
    let worst = 0;
    const before = s.stats.cursorSteps;
    for (let i = 0; i < 200_000; i++) {
      clock.now += rnd.int(20);
      const steps = s.stats.cursorSteps;
      s.set(`k${i}`, message(0), clock.now, rnd.range(1, 86_400) * 1000);
      worst = Math.max(worst, s.stats.cursorSteps - steps);
      if (i % 10_000 === 0) assert.equal(s.size, MAX);
    }
    assert.equal(s.stats.evictedExpired + s.stats.evictedLru, 200_000, 'one eviction per insert');
    assert.ok(s.stats.evictedExpired > 0, 'some entries expired during the run');
    assert.ok(worst <= 2, `an insert took ${worst} cursor steps`);
    assert.ok(s.stats.cursorSteps - before <= 200_000 / BUCKET_MS * 20 + 10, `${s.stats.cursorSteps - before} cursor steps in all`);
  });
});

describe('cache store: byte bound', () => {
  it('counts an entry as overhead, record header, key, wire and 6 bytes a TTL pair', () => {
    assert.equal(entryBytes('abc', sized(100, 3)), ENTRY_OVERHEAD_BYTES + 22 + 3 + 100 + 18);
    assert.equal(entryBytes('', sized(0, 0)), ENTRY_OVERHEAD_BYTES + 22);
  });

  it('tracks bytes through set, replace, delete and eviction', () => {
    const { s } = store(2);
    assert.equal(s.bytes, 0);
    s.set('a', sized(100), T0, HOUR);
    assert.equal(s.bytes, UNIT);
    s.set('b', sized(300, 2), T0, HOUR);
    assert.equal(s.bytes, UNIT + entryBytes('b', sized(300, 2)));
    s.set('a', sized(50), T0, HOUR); // replaced in place
    assert.equal(s.bytes, entryBytes('a', sized(50)) + entryBytes('b', sized(300, 2)));
    s.set('c', sized(100), T0, HOUR); // evicts b, the least recently used
    assert.equal(s.bytes, entryBytes('a', sized(50)) + entryBytes('c', sized(100)));
    s.delete('a');
    assert.equal(s.bytes, entryBytes('c', sized(100)));
    s.delete('c');
    assert.equal(s.bytes, 0);
  });

  it('exposes both bounds', () => {
    const { s } = store(7, T0, 12_345);
    assert.equal(s.maxEntries, 7);
    assert.equal(s.maxBytes, 12_345);
    assert.equal(store(7).s.maxBytes, Infinity);
  });

  it('rejects a byte bound that is not a positive integer', () => {
    assert.throws(() => createCacheStore(10, () => T0, 0, 0), RangeError);
    assert.throws(() => createCacheStore(10, () => T0, 0, 1.5), RangeError);
    assert.throws(() => createCacheStore(10, () => T0, 0, Number.NaN), RangeError);
  });

  it('evicts the least recently used entries until a new one fits the byte bound', () => {
    const { s } = store(1000, T0, 3 * UNIT);
    for (const k of ['a', 'b', 'c']) s.set(k, sized(100), T0, HOUR);
    s.get('a');
    s.set('d', sized(100), T0, HOUR);
    assert.deepEqual(keys(s), ['a', 'c', 'd']);
    assert.equal(s.bytes, 3 * UNIT);
    // One entry of two units' cost pushes out the two least recently used.
    const big = sized(100 + UNIT);
    assert.equal(entryBytes('e', big), 2 * UNIT);
    s.set('e', big, T0, HOUR);
    assert.deepEqual(keys(s), ['d', 'e']);
    assert.equal(s.bytes, 3 * UNIT);
    assert.equal(s.stats.evictedLru, 3);
    assert.equal(s.stats.evictedForBytes, 3, 'the entry bound never asked for room');
  });

  it('evicts expired entries first under the byte bound too, oldest bucket first (fake clock)', () => {
    const { s, clock } = store(1000, T0, 4 * UNIT);
    s.set('a', sized(100), T0, 5 * 60_000);
    s.set('b', sized(100), T0, 60_000);
    s.set('c', sized(100), T0, HOUR);
    s.set('d', sized(100), T0, HOUR);
    s.get('a');
    s.get('b');
    clock.now = T0 + 10 * 60_000; // a and b have expired, b first
    s.set('e', sized(100), clock.now, HOUR);
    assert.deepEqual(keys(s), ['a', 'c', 'd', 'e']);
    s.set('f', sized(100 + UNIT), clock.now, HOUR); // two units: a (expired), then c (LRU)
    assert.deepEqual(keys(s), ['d', 'e', 'f']);
    assert.equal(s.stats.evictedExpired, 2);
    assert.equal(s.stats.evictedLru, 1);
    assert.ok(s.bytes <= 4 * UNIT);
  });

  it('makes room for a replacement that grew', () => {
    const { s } = store(1000, T0, 3 * UNIT);
    for (const k of ['a', 'b', 'c']) s.set(k, sized(100), T0, HOUR);
    s.set('c', sized(100 + UNIT), T0, HOUR);
    assert.deepEqual(keys(s), ['b', 'c']);
    assert.equal(s.bytes, 3 * UNIT);
  });

  it('keeps whichever bound is tighter: the entry bound with room in bytes', () => {
    const { s } = store(2, T0, 100 * UNIT);
    for (const k of ['a', 'b', 'c']) s.set(k, sized(100), T0, HOUR);
    assert.deepEqual(keys(s), ['b', 'c']);
    assert.equal(s.stats.evictedForBytes, 0);
  });

  it('does not keep an entry bigger than the whole bound, nor the old one for its key', () => {
    const { s } = store(1000, T0, 2 * UNIT);
    s.set('a', sized(100), T0, HOUR);
    s.set('b', sized(100), T0, HOUR);
    const e = s.set('b', sized(100 + 2 * UNIT), T0, HOUR);
    assert.equal(e.key, 'b', 'an entry comes back all the same');
    assert.equal(s.peek('b'), undefined);
    assert.deepEqual(keys(s), ['a'], 'nothing else was evicted for it');
    assert.equal(s.bytes, UNIT);
    assert.equal(s.stats.refusedTooLarge, 1);
    assert.equal(s.stats.evictedLru + s.stats.evictedExpired, 0);
  });

  it('matches a reference model under both bounds, with replies of every size (seed 0xb17e5)', () => {
    const rnd = createPrng(0xb17e5);
    const MAX = 60;
    const MAX_BYTES = 20 * UNIT;
    const { s, clock } = store(MAX, T0, MAX_BYTES);
    let order: string[] = []; // recency, oldest first
    const model = new Map<string, { expiresAtMs: number; bytes: number }>();
    const modelBytes = () => [...model.values()].reduce((n, e) => n + e.bytes, 0);
    const touch = (k: string) => {
      order = order.filter((x) => x !== k);
      order.push(k);
    };
    const forget = (k: string) => {
      model.delete(k);
      order = order.filter((x) => x !== k);
    };
    /** What the store may evict next: the lowest expired bucket, or else the LRU entry. */
    const allowed = (nowMs: number): string[] => {
      const current = Math.floor(nowMs / BUCKET_MS);
      const expired = [...model].filter(([, e]) => Math.floor(e.expiresAtMs / BUCKET_MS) < current);
      if (expired.length === 0) return [order[0]];
      const lowest = Math.min(...expired.map(([, e]) => Math.floor(e.expiresAtMs / BUCKET_MS)));
      return expired.filter(([, e]) => Math.floor(e.expiresAtMs / BUCKET_MS) === lowest).map(([k]) => k);
    };
    for (let step = 0; step < 20_000; step++) {
      clock.now += rnd.int(rnd.chance(0.1) ? 10 * 60_000 : 3_000);
      const k = `k${rnd.int(150)}`;
      const op = rnd.next();
      if (op < 0.6) {
        // Mostly small replies, some large, now and then one bigger than the whole bound.
        const size = rnd.chance(0.01) ? MAX_BYTES : rnd.chance(0.1) ? rnd.range(1_000, 4 * UNIT) : rnd.range(20, 300);
        const m = sized(size, rnd.range(0, 6), step & 0xff);
        const cost = entryBytes(k, m);
        const ttl = rnd.pick([1_000, 30_000, 300_000, HOUR]);
        const before = new Set(model.keys());
        s.set(k, m, clock.now, ttl);
        forget(k);
        const gone = [...before].filter((x) => x !== k && !s.peek(x));
        if (cost > MAX_BYTES) {
          assert.equal(gone.length, 0, `step ${step}: nothing evicted for an entry that cannot fit`);
          assert.equal(s.peek(k), undefined, `step ${step}: oversized entry not kept`);
        } else {
          // Each victim, in turn, must be one the rules allow.
          const sizeBefore = model.size;
          const bytesBefore = modelBytes();
          const costs = gone.map((x) => model.get(x)!.bytes);
          let left = [...gone];
          while (left.length > 0) {
            const may = allowed(clock.now);
            const v = left.find((x) => may.includes(x));
            assert.ok(v, `step ${step}: evicted ${left.join(',')}, expected one of ${may.join(',')}`);
            forget(v);
            left = left.filter((x) => x !== v);
          }
          // And no more went than needed: without the last victim (whichever it was) the new
          // entry would not have fitted.
          if (gone.length > 0) {
            const last = Math.max(...costs);
            const removed = costs.reduce((n, c) => n + c, 0);
            const overWithoutLast = sizeBefore - gone.length + 1 >= MAX || bytesBefore - removed + last + cost > MAX_BYTES;
            assert.ok(overWithoutLast, `step ${step}: evicted ${gone.join(',')}, more than needed`);
          }
          model.set(k, { expiresAtMs: clock.now + ttl, bytes: cost });
          touch(k);
        }
      } else if (op < 0.9) {
        const e = s.get(k);
        assert.equal(e !== undefined, model.has(k), `step ${step}: get ${k}`);
        if (e) touch(k);
      } else {
        assert.equal(s.delete(k), model.has(k), `step ${step}: delete ${k}`);
        forget(k);
      }
      assert.equal(s.size, model.size, `step ${step}: size`);
      assert.equal(s.bytes, modelBytes(), `step ${step}: bytes`);
      assert.ok(s.size <= MAX && s.bytes <= MAX_BYTES, `step ${step}: ${s.size} entries, ${s.bytes} bytes`);
    }
    assert.ok(s.stats.evictedForBytes > 100 && s.stats.refusedTooLarge > 10, 'the run exercised the byte bound');
  });

  it('does constant work per insert when the byte bound is what binds (200k inserts)', () => {
    const rnd = createPrng(0xfeed);
    const MAX_BYTES = 2_000 * UNIT;
    const { s, clock } = store(1_000_000, T0, MAX_BYTES);
    for (let i = 0; i < 2_000; i++) s.set(`warm${i}`, sized(100), clock.now, rnd.range(1, 86_400) * 1000);
    let worst = 0;
    const before = s.stats.cursorSteps;
    const evictionsBefore = s.stats.evictedExpired + s.stats.evictedLru;
    const forBytesBefore = s.stats.evictedForBytes;
    const N = 200_000;
    for (let i = 0; i < N; i++) {
      clock.now += rnd.int(20);
      const steps = s.stats.cursorSteps;
      // Sizes vary, so one insert may evict several entries.
      s.set(`k${i}`, sized(rnd.chance(0.05) ? rnd.range(1_000, 3 * UNIT) : rnd.range(30, 200)), clock.now, rnd.range(1, 86_400) * 1000);
      worst = Math.max(worst, s.stats.cursorSteps - steps);
      assert.ok(s.bytes <= MAX_BYTES);
    }
    const evictions = s.stats.evictedExpired + s.stats.evictedLru - evictionsBefore;
    assert.ok(evictions <= N + 2_000, `${evictions} evictions: each entry leaves at most once`);
    assert.equal(s.stats.evictedForBytes - forBytesBefore, evictions, 'only the byte bound evicted');
    assert.ok(s.stats.evictedExpired > 0, 'some entries expired during the run');
    assert.ok(worst <= 4, `an insert took ${worst} cursor steps`);
    assert.ok(s.stats.cursorSteps - before <= (N / BUCKET_MS) * 20 + 10, `${s.stats.cursorSteps - before} cursor steps in all`);
  });
});

describe('cache store: compact storage (#11)', () => {
  /** A message whose every byte and TTL says which key and round it belongs to. */
  function tagged(i: number, round: number, wireBytes: number): StoredMessage {
    const wire = new Uint8Array(wireBytes);
    for (let j = 0; j < wireBytes; j++) wire[j] = (i * 7 + round * 13 + j) & 0xff;
    const pairs = 1 + (i % 3);
    const ttls: number[] = [];
    for (let j = 0; j < pairs; j++) ttls.push(j * 4, 1_000_000 + i * 10 + round);
    return { wire, ttls, rcode: i % 6, ad: i % 2 === 0, answerCount: i % 5, minAnswerTtl: i, negativeTtl: -1 - round };
  }

  it('#11 - gives back every byte of every entry while its arena pages are evacuated and reused', () => {
    const rnd = createPrng(0xc0ffee);
    const { s, clock } = store(3_000, T0, 400_000);
    const model = new Map<string, StoredMessage>();
    for (let step = 0; step < 30_000; step++) {
      clock.now += 10;
      const i = rnd.int(5_000);
      const key = `name-${i}`;
      if (rnd.chance(0.1)) {
        s.delete(key);
        model.delete(key);
        continue;
      }
      const m = tagged(i, step, rnd.chance(0.02) ? rnd.range(17_000, 30_000) : rnd.range(12, 400));
      s.set(key, m, clock.now, HOUR);
      model.set(key, m);
      if (step % 3_000 === 0 || step === 29_999) {
        // The model still holds what the store evicted since: those are simply absent.
        let present = 0;
        for (const [k, want] of model) {
          const e = s.peek(k);
          if (!e) continue;
          present++;
          assert.deepEqual(e.message, want, `step ${step}: ${k}`);
        }
        assert.equal(s.size, present, `step ${step}: every entry held is one the model knows`);
      }
    }
    assert.ok(s.stats.compactions > 10, `${s.stats.compactions} pages evacuated`);
    const records = s.bytes - s.size * ENTRY_OVERHEAD_BYTES;
    assert.ok(s.arenaBytes <= (records * 8) / 7 + 2 * 65_536, `arena ${s.arenaBytes} bytes for ${records} bytes of records`);
  });

  it('#11 - a handle kept past its entry\'s eviction neither reads nor writes the slot\'s next tenant', () => {
    const { s } = store(1);
    s.set('a', message(1), T0, 60_000);
    const old = s.peek('a')!;
    s.set('b', message(2), T0, 60_000); // evicts a; b takes its slot
    assert.equal(old.live, false);
    old.failedAtMs = T0;
    old.revalidating = true;
    old.popularity = 99;
    const b = s.peek('b')!;
    assert.equal(b.failedAtMs, -Infinity);
    assert.equal(b.revalidating, false);
    assert.equal(b.popularity, 0);
    assert.equal(old.message.wire[0], 1, 'the old handle still reads what it held');
    assert.equal(old.failedAtMs, T0);
  });

  it('#11 - finds keys whose hashes collide in the index after deletions in the middle of a run', () => {
    const { s } = store(10_000, T0);
    for (let i = 0; i < 5_000; i++) s.set(`k${i}`, message(i & 0xff), T0, HOUR);
    for (let i = 0; i < 5_000; i += 3) s.delete(`k${i}`);
    for (let i = 0; i < 5_000; i++) {
      const e = s.peek(`k${i}`);
      if (i % 3 === 0) assert.equal(e, undefined, `k${i}`);
      else assert.equal(e?.message.wire[0], i & 0xff, `k${i}`);
    }
  });

  it('#11 - room reserved for a bulk insert, with entries already held, changes nothing they show', () => {
    const a = store(3_000, T0).s;
    const b = store(3_000, T0).s;
    for (const s of [a, b]) for (let i = 0; i < 1_000; i++) s.set(`k${i}`, message(i & 0xff), T0 + i, HOUR);
    // Far beyond the entry bound, then nothing: neither may lose or reorder an entry.
    b.reserve(1_000_000);
    b.reserve(0);
    for (const s of [a, b]) for (let i = 1_000; i < 4_000; i++) s.set(`k${i}`, message(i & 0xff), T0 + i, HOUR);
    assert.deepEqual([...b.entries()].map((e) => [e.key, e.message.wire[0]]), [...a.entries()].map((e) => [e.key, e.message.wire[0]]));
    assert.equal(b.size, 3_000);
    for (let i = 1_000; i < 4_000; i++) assert.equal(b.peek(`k${i}`)?.message.wire[0], i & 0xff, `k${i}`);
  });
});

describe('#11 - cache store: the hash index grows without a pause', () => {
  const findable = (s: CacheStore, from: number, to: number, gone: Set<number> = new Set()) => {
    for (let i = from; i < to; i++) {
      const e = s.peek(`k${i}`);
      assert.equal(e?.message.wire[0], gone.has(i) ? undefined : i & 0xff, `k${i}`);
    }
  };

  it('moves a few entries per insert, and every entry is found during and after each growth', () => {
    const { s } = store(1_000_000);
    const held = (to: number) => {
      for (let i = 0; i < to; i++) if (!s.has(`k${i}`)) assert.fail(`k${i} not found with ${to} held`);
    };
    for (let i = 0; i < 60_000; i++) {
      s.set(`k${i}`, message(i & 0xff), T0, HOUR);
      // Through the first growth (at 1,434 entries) after every insert, through the last (at
      // 45,876) every 16th; elsewhere now and then.
      if ((i > 1_430 && i < 1_700) || (i > 45_870 && i < 46_400 && i % 16 === 0) || i % 4_999 === 0) held(i + 1);
    }
    findable(s, 0, 60_000);
    assert.equal(s.size, 60_000);
    // Rehashed at once, the last growth would have moved 45,876 in one insert.
    assert.ok(s.stats.indexMovedMost <= 8, `${s.stats.indexMovedMost} moved in one insert`);
  });

  it('deletes entries not yet moved and entries already moved while it grows', () => {
    const { s } = store(1_000_000);
    const gone = new Set<number>();
    // The table of 4,096 grows at 2,868 entries into 8,192 positions: moving takes 512 inserts.
    for (let i = 0; i < 2_868; i++) s.set(`k${i}`, message(i & 0xff), T0, HOUR);
    for (let i = 2_868; i < 3_200; i++) {
      s.set(`k${i}`, message(i & 0xff), T0, HOUR);
      // Now one of the first (likely moved already), now one of the last (likely not).
      const victim = i % 2 === 0 ? (i * 7) % 2_868 : 2_867 - ((i * 13) % 1_400);
      if (!gone.has(victim)) {
        assert.equal(s.delete(`k${victim}`), true, `k${victim}`);
        gone.add(victim);
      }
      assert.equal(s.delete(`k${victim}`), false, `k${victim} a second time`);
      if (i % 16 === 0) findable(s, 0, i + 1, gone);
    }
    findable(s, 0, 3_200, gone);
    assert.equal(s.size, 3_200 - gone.size);
    // The index is whole: putting every key again finds the old entry, never a second one.
    for (let i = 0; i < 3_200; i++) s.set(`k${i}`, message((i + 1) & 0xff), T0, HOUR);
    assert.equal(s.size, 3_200);
    assert.equal(new Set([...s.entries()].map((e) => e.key)).size, 3_200);
  });

  it('matches a Map over random inserts, lookups and deletes through many growths, LRU order and byte bound kept (seed 0x1dec5)', () => {
    const rnd = createPrng(0x1dec5);
    const MAX = 12_000;
    const MAX_BYTES = 9_000 * UNIT;
    const { s } = store(MAX, T0, MAX_BYTES);
    // Nothing expires: the victims are the least recently used, the Map's first keys.
    const model = new Map<string, number>();
    let modelBytes = 0;
    const cost = (k: string) => entryBytes(k, sized(100, 1));
    const use = (k: string, tag: number) => {
      model.delete(k);
      model.set(k, tag);
    };
    for (let step = 0; step < 120_000; step++) {
      const k = `k${rnd.int(step < 40_000 ? 20_000 : 2_000)}`;
      const op = rnd.next();
      if (op < 0.55) {
        const tag = step & 0xff;
        if (model.has(k)) modelBytes -= cost(k);
        model.delete(k);
        while (model.size >= MAX || modelBytes + cost(k) > MAX_BYTES) {
          const victim = model.keys().next().value!;
          model.delete(victim);
          modelBytes -= cost(victim);
        }
        s.set(k, sized(100, 1, tag), T0, 24 * HOUR);
        use(k, tag);
        modelBytes += cost(k);
      } else if (op < 0.8) {
        const e = s.get(k);
        assert.equal(e?.message.wire[0], model.get(k), `step ${step}: get ${k}`);
        if (e) use(k, model.get(k)!);
      } else if (op < 0.9) {
        assert.equal(s.peek(k)?.message.wire[0], model.get(k), `step ${step}: peek ${k}`);
      } else {
        if (model.has(k)) modelBytes -= cost(k);
        assert.equal(s.delete(k), model.delete(k), `step ${step}: delete ${k}`);
      }
      assert.equal(s.size, model.size, `step ${step}: size`);
      assert.equal(s.bytes, modelBytes, `step ${step}: bytes`);
      assert.ok(s.bytes <= MAX_BYTES, `step ${step}: ${s.bytes} bytes`);
      if (step % 20_000 === 0) assert.deepEqual([...s.entries()].map((e) => e.key), [...model.keys()], `step ${step}: LRU order`);
    }
    assert.deepEqual([...s.entries()].map((e) => [e.key, e.message.wire[0]]), [...model]);
    assert.ok(s.stats.indexMovedMost <= 8, `${s.stats.indexMovedMost} moved in one insert`);
  });
});

describe('cache store: what a real reply costs (#11)', () => {
  function real(name: string, asked = name) {
    const bytes = reply(query(asked), { answers: [{ type: 'A', name: asked, ttl: 300, class: 'IN', data: '192.0.2.7' }, { type: 'A', name: asked, ttl: 60, class: 'IN', data: '192.0.2.8' }] });
    const scan = scanMessage(bytes);
    if (typeof scan === 'string') throw new Error(scan);
    const parsed = parseQuery(query(name));
    if (!parsed.ok) throw new Error(parsed.problem);
    return { key: parsed.query.key, message: toStored(bytes, scan, 86_400) };
  }

  it('#11 - keeps a key that its reply repeats as one byte, and TTLs the wire holds as offsets', () => {
    const { key, message } = real('www.Example.org', 'www.Example.org');
    const full = ENTRY_OVERHEAD_BYTES + 22 + key.length + message.wire.length + 6 * (message.ttls.length / 2);
    assert.equal(entryBytes(key, message), full - (key.length - 1) - 4 * (message.ttls.length / 2));
    const { s } = store(10);
    s.set(key, message, T0, 60_000);
    const e = s.peek(key)!;
    assert.equal(e.key, key);
    assert.deepEqual(e.message.ttls, message.ttls);
    assert.deepEqual(e.message.wire.subarray(0, 12), message.wire.subarray(0, 12));
    assert.deepEqual(e.message.wire.subarray(29), message.wire.subarray(29));
    assert.equal(s.bytes, entryBytes(key, message));
    assert.equal(s.peek(key.slice(0, -1) + '\u0003'), undefined, 'another DO/CD byte is another key');
  });

  it('#11 - keeps the whole key when the reply answers another question', () => {
    const { key } = real('a.example.org');
    const other = real('b.example.org').message;
    const { s } = store(10);
    s.set(key, other, T0, 60_000);
    assert.equal(s.peek(key)!.key, key);
    assert.deepEqual(s.peek(key)!.message, other);
    assert.equal(s.peek(real('b.example.org').key), undefined);
  });
});

describe('#11 - cache store: lookups from a query\'s bytes', () => {
  /** The stored reply to `q` as the cache stage keeps it. */
  function stored(q: Uint8Array, ttl = 300) {
    const r = reply(q, { answers: [{ name: 'www.example', type: 'A', ttl, class: 'IN', data: '192.0.2.1' } as never] });
    const scan = scanMessage(r);
    if (typeof scan === 'string') throw new Error(scan);
    return toStored(r, scan, 86_400);
  }
  const parsed = (q: Uint8Array) => {
    const r = parseQuery(q);
    if (!r.ok) throw new Error(r.problem);
    return r.query;
  };

  it('finds by the bytes what find() finds by the key, whether the key is kept in the reply or apart', () => {
    const { s } = store(10);
    const inWire = parsed(query('www.example'));
    s.put(inWire.key, stored(query('www.example')), T0, 60_000);
    // A key whose question the reply does not repeat is kept whole beside it.
    const apart = parsed(query('other.example', 'AAAA', { do: true }));
    s.put(apart.key, stored(query('www.example')), T0, 60_000);
    for (const q of [inWire, apart, parsed(query('WWW.Example')), parsed(query('OTHER.example', 'AAAA', { do: true }))]) {
      assert.notEqual(s.findQuery(q), -1, q.key);
      assert.equal(s.findQuery(q), s.find(q.key));
    }
    for (const q of [query('www.example', 'AAAA'), query('www.example', 'A', { do: true }), query('www.example', 'A', { cd: true }), query('ww.example'), query('other.example', 'AAAA')]) {
      assert.equal(s.findQuery(parsed(q)), -1, parsed(q).key);
    }
  });

  it('does not count a lookup from the bytes as a use; touch() does', () => {
    const { s } = store(2);
    const a = parsed(query('a.example'));
    s.put(a.key, stored(query('a.example')), T0, 60_000);
    s.put(parsed(query('b.example')).key, stored(query('b.example')), T0, 60_000);
    s.findQuery(a);
    s.put(parsed(query('c.example')).key, stored(query('c.example')), T0, 60_000);
    assert.equal(s.has(a.key), false, 'a was still the least recently used');
    const b = parsed(query('b.example'));
    s.touch(s.findQuery(b));
    s.put(parsed(query('d.example')).key, stored(query('d.example')), T0, 60_000);
    assert.equal(s.has(b.key), true);
  });

  it('copies the reply out with its TTLs counted down, never below zero', () => {
    const { s } = store(10);
    const q = parsed(query('www.example'));
    const m = stored(query('www.example'), 100);
    const slot = s.put(q.key, m, T0, 100_000);
    const out = new Uint8Array(512).fill(0xee);
    assert.equal(s.copyCountedDown(slot, out, 30), m.wire.length);
    const expected = m.wire.slice();
    expected.set([0, 0, 0, 70], m.ttls[0]);
    assert.deepEqual(out.subarray(0, m.wire.length), expected);
    s.copyCountedDown(slot, out, 500);
    assert.deepEqual([...out.subarray(m.ttls[0], m.ttls[0] + 4)], [0, 0, 0, 0]);
    s.copyCountedDown(slot, out, -5);
    assert.deepEqual([...out.subarray(m.ttls[0], m.ttls[0] + 4)], [0, 0, 0, 100], 'a clock stepped back never counts up');
  });
});
