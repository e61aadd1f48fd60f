import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBucket, createBucketTable, takeToken, type Bucket } from '../../src/gate/token-bucket.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';
import { createPrng } from '../helpers/prng.ts';

const RATE = { perSecond: 10, burst: 5 };

function takes(n: number, take: () => boolean): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (take()) ok++;
  return ok;
}

describe('token bucket', () => {
  it('allows a burst at once, then nothing until time passes', () => {
    const time = createFakeTime();
    const b = createBucket(RATE, time.now());
    assert.equal(takes(20, () => takeToken(b, RATE, time.now())), 5);
  });

  it('refills at the rate: 10 per second is one per 100 ms', () => {
    const time = createFakeTime();
    const b = createBucket(RATE, time.now());
    takes(5, () => takeToken(b, RATE, time.now()));
    time.advance(99);
    assert.equal(takeToken(b, RATE, time.now()), false);
    time.advance(1);
    assert.equal(takeToken(b, RATE, time.now()), true);
    assert.equal(takeToken(b, RATE, time.now()), false);
    time.advance(350);
    assert.equal(takes(10, () => takeToken(b, RATE, time.now())), 3);
  });

  it('never holds more than the burst, however long it rests', () => {
    const time = createFakeTime();
    const b = createBucket(RATE, time.now());
    time.advance(3_600_000);
    assert.equal(takes(100, () => takeToken(b, RATE, time.now())), 5);
  });

  it('sustains the rate over a long run of steady queries', () => {
    const time = createFakeTime();
    const b = createBucket(RATE, time.now());
    let ok = 0;
    // 50 queries a second for 10 s: the burst plus 10 a second get through.
    for (let i = 0; i < 500; i++) {
      if (takeToken(b, RATE, time.now())) ok++;
      time.advance(20);
    }
    assert.ok(ok >= 100 && ok <= 106, `got ${ok}`);
  });

  it('keeps refilling after the clock steps backwards', () => {
    const time = createFakeTime();
    let now = time.now();
    const b = createBucket(RATE, now);
    takes(5, () => takeToken(b, RATE, now));
    now -= 3_600_000;
    assert.equal(takeToken(b, RATE, now), false);
    now += 100;
    assert.equal(takeToken(b, RATE, now), true);
  });
});

describe('bucket table', () => {
  it('keeps one bucket per key', () => {
    const time = createFakeTime();
    const t = createBucketTable(RATE, 100);
    assert.equal(takes(10, () => t.take('a', time.now())), 5);
    assert.equal(takes(10, () => t.take('b', time.now())), 5);
    assert.equal(takes(10, () => t.take(1, time.now())), 5);
    assert.equal(t.size, 3);
  });

  it('gives a refunded token back', () => {
    const time = createFakeTime();
    const t = createBucketTable(RATE, 100);
    takes(5, () => t.take('a', time.now()));
    t.refund('a');
    assert.equal(t.take('a', time.now()), true);
    assert.equal(t.take('a', time.now()), false);
  });

  it('never holds more than its bound while keys keep arriving, and counts what it had to forget', () => {
    const time = createFakeTime();
    let evicted = 0;
    const t = createBucketTable(RATE, 64, () => evicted++);
    for (let i = 0; i < 10_000; i++) {
      t.take(i, time.now());
      assert.ok(t.size <= 64);
    }
    assert.equal(t.size, 64);
    assert.equal(evicted, 10_000 - 64);
  });

  it('forgets the least recently used key first, so a busy client keeps its state', () => {
    const time = createFakeTime();
    const t = createBucketTable(RATE, 4);
    takes(5, () => t.take('busy', time.now()));
    for (let i = 0; i < 20; i++) {
      t.take(`spray-${i}`, time.now());
      // The busy client is still empty-handed: its bucket was not forgotten and refilled.
      assert.equal(t.take('busy', time.now()), false);
    }
  });

  it('drops buckets that have refilled (nothing is lost) without counting them as evictions', () => {
    const time = createFakeTime();
    let evicted = 0;
    const t = createBucketTable(RATE, 1000, () => evicted++);
    for (let i = 0; i < 100; i++) t.take(i, time.now());
    // burst/rate = 0.5 s later every bucket is full again.
    time.advance(500);
    for (let i = 100; i < 150; i++) t.take(i, time.now());
    assert.equal(t.size, 50);
    assert.equal(evicted, 0);
  });

  it('keeps a bucket that has not yet refilled, however long it has been idle short of that', () => {
    const time = createFakeTime();
    const t = createBucketTable(RATE, 100);
    takes(5, () => t.take('a', time.now()));
    // 499 ms: 4.99 tokens back, one short of full, so forgetting 'a' would give it one extra.
    time.advance(499);
    t.take('b', time.now());
    t.take('c', time.now());
    assert.equal(t.size, 3);
    assert.equal(takes(10, () => t.take('a', time.now())), 4);
  });

  it('behaves as a plain LRU map of buckets with the same pruning rule would (random walk)', () => {
    const prng = createPrng(7);
    const time = createFakeTime();
    const MAX = 8;
    let evicted = 0;
    let modelEvicted = 0;
    const t = createBucketTable(RATE, MAX, () => evicted++);
    // The model: a Map in recency order, written for clarity rather than speed.
    const model = new Map<number, Bucket>();
    const refilledMs = (RATE.burst / RATE.perSecond) * 1000;
    const modelTake = (key: number, now: number): boolean => {
      let b = model.get(key);
      if (b) model.delete(key);
      else {
        for (let pruned = 0; pruned < 2; pruned++) {
          const [oldest, ob] = model.entries().next().value ?? [];
          if (ob === undefined || now - ob.atMs < refilledMs) break;
          model.delete(oldest!);
        }
        if (model.size >= MAX) {
          model.delete(model.keys().next().value!);
          modelEvicted++;
        }
        b = createBucket(RATE, now);
      }
      model.set(key, b);
      return takeToken(b, RATE, now);
    };
    for (let step = 0; step < 20_000; step++) {
      const key = prng.int(12);
      if (prng.chance(0.3)) time.advance(prng.int(400));
      assert.equal(t.take(key, time.now()), modelTake(key, time.now()), `step ${step}, key ${key}`);
      assert.equal(t.size, model.size);
    }
    assert.equal(evicted, modelEvicted);
    assert.ok(evicted > 100, `the walk should evict now and then (${evicted})`);
  });
});
