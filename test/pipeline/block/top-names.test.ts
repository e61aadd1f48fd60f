import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTopNames } from '../../../src/pipeline/block/top-names.ts';
import { createPrng } from '../../helpers/prng.ts';

describe('#14 - top blocked names (space-saving)', () => {
  it('counts exactly while the names fit', () => {
    const t = createTopNames(4);
    for (const n of ['a', 'b', 'a', 'c', 'a', 'b']) t.add(n);
    assert.deepEqual(t.top(2), [
      { name: 'a', count: 3, error: 0 },
      { name: 'b', count: 2, error: 0 },
    ]);
  });

  it('keeps at most its capacity, and finds the frequent names among a flood of distinct ones', () => {
    const t = createTopNames(64);
    const random = createPrng(14);
    for (let i = 0; i < 50_000; i++) {
      const r = random.next();
      // Three names take 30 %, 15 % and 5 % of the stream; the rest are each seen about once.
      t.add(r < 0.3 ? 'ads.example.' : r < 0.45 ? 'tracker.example.' : r < 0.5 ? 'pixel.example.' : `n${i}.example.`);
      assert.ok(t.size <= 64);
    }
    const top = t.top(3);
    assert.deepEqual(
      top.map((x) => x.name),
      ['ads.example.', 'tracker.example.', 'pixel.example.'],
    );
    // Space-saving over-counts by at most `error`, never under-counts.
    assert.ok(top[0].count - top[0].error <= 15_000 * 1.1 && top[0].count >= 14_000, JSON.stringify(top[0]));
  });
});
