import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLatencyHistograms, LATENCY_BUCKETS_MS, LATENCY_SOURCES } from '../../src/core/latency.ts';

describe('latency histograms', () => {
  it('start at zero for every source, with a slot per bound and one for +Inf', () => {
    const h = createLatencyHistograms();
    for (const s of LATENCY_SOURCES) {
      const r = h.read(s);
      assert.equal(r.counts.length, LATENCY_BUCKETS_MS.length + 1);
      assert.ok(r.counts.every((c) => c === 0));
      assert.equal(r.count, 0);
      assert.equal(r.sumMs, 0);
    }
  });

  it('puts a value equal to a bound in that bucket (le means at most), above it in the next', () => {
    const h = createLatencyHistograms();
    h.observe('cache-fresh', 0.1);
    h.observe('cache-fresh', 0.1000001);
    h.observe('cache-fresh', 0.02);
    const r = h.read('cache-fresh');
    assert.equal(r.counts[0], 2);
    assert.equal(r.counts[1], 1);
    assert.equal(r.count, 3);
    assert.ok(Math.abs(r.sumMs - 0.2200001) < 1e-9);
  });

  it('counts values beyond the largest bound in +Inf, and a negative duration (a clock step) as zero', () => {
    const h = createLatencyHistograms();
    h.observe('upstream', 60_000);
    h.observe('upstream', -5);
    const r = h.read('upstream');
    assert.equal(r.counts[LATENCY_BUCKETS_MS.length], 1);
    assert.equal(r.counts[0], 1);
    assert.equal(r.sumMs, 60_000);
  });

  it('keeps sources apart', () => {
    const h = createLatencyHistograms();
    h.observe('failure', 4_000);
    assert.equal(h.read('failure').count, 1);
    assert.equal(h.read('upstream').count, 0);
    assert.equal(h.read('cache-fresh').count, 0);
  });

  it('has increasing bounds from 0.1 ms to 5 s', () => {
    assert.equal(LATENCY_BUCKETS_MS[0], 0.1);
    assert.equal(LATENCY_BUCKETS_MS.at(-1), 5_000);
    for (let i = 1; i < LATENCY_BUCKETS_MS.length; i++) assert.ok(LATENCY_BUCKETS_MS[i] > LATENCY_BUCKETS_MS[i - 1]);
  });
});
