import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLatencyHistograms, LATENCY_BUCKETS_MS } from '../../../src/core/latency.ts';
import { typeName } from '../../../src/core/wire/type-names.ts';
import { parseQuery } from '../../../src/core/wire/query.ts';
import type { CacheEntry } from '../../../src/pipeline/cache/store.ts';
import { quantileMs, topNames } from '../../../src/server/http/stats.ts';
import { query } from '../../helpers/packets.ts';

function entry(name: string, popularity: number): CacheEntry {
  const p = parseQuery(query(name, 'AAAA'));
  if (!p.ok) throw new Error('bad');
  return { key: p.query.key, popularity, popularityAtMs: 0 } as CacheEntry;
}

describe('stats: quantiles from the latency histogram', () => {
  it('is null with no answers', () => {
    assert.equal(quantileMs(createLatencyHistograms().read('upstream'), 0.5), null);
  });

  it('interpolates within the bucket the rank falls in', () => {
    const h = createLatencyHistograms();
    for (let i = 0; i < 10; i++) h.observe('upstream', 20); // all in the (10, 25] bucket
    assert.equal(quantileMs(h.read('upstream'), 0.5), 17.5);
    assert.equal(quantileMs(h.read('upstream'), 1), 25);
  });

  it('says "the largest bound" for answers beyond it', () => {
    const h = createLatencyHistograms();
    h.observe('failure', 9_000);
    assert.equal(quantileMs(h.read('failure'), 0.5), LATENCY_BUCKETS_MS.at(-1));
  });
});

describe('stats: top names', () => {
  it('gives the most popular entries first, as names and types', () => {
    const top = topNames([entry('a.example', 1), entry('b.example', 9), entry('c.example', 4), entry('d.example', 0)], 0, 600_000, 2);
    assert.deepEqual(top, [
      { name: 'b.example.', type: 'AAAA', popularity: 9 },
      { name: 'c.example.', type: 'AAAA', popularity: 4 },
    ]);
  });

  it('names types by mnemonic, or TYPEn', () => {
    assert.equal(typeName(28), 'AAAA');
    assert.equal(typeName(65), 'HTTPS');
    assert.equal(typeName(4242), 'TYPE4242');
  });
});
