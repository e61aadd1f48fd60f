import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLatencyView, hedgeAfterMs } from '../../src/upstreams/health/latency.ts';

describe('#12 - an upstream\'s reply times as a distribution', () => {
  it('reads the share of replies slower than a time, and the time with a given tail', () => {
    const v = createLatencyView();
    for (let i = 0; i < 100; i++) v.sample(i % 10 === 9 ? 200 : 1);
    assert.ok(Math.abs(v.slowerThan(50) - 0.1) < 0.02, `slower than 50 ms: ${v.slowerThan(50)}`);
    assert.equal(v.slowerThan(1_000), 0);
    const t = v.timeWithTail(0.001);
    assert.ok(t >= 200 && t < 200 * 1.1, `the slowest thousandth begins at ${t} ms`);
    assert.ok(v.timeWithTail(0.5) < 2.5, 'half the replies are hits');
  });

  it('weighs recent replies more, so it follows an upstream that got faster', () => {
    const v = createLatencyView();
    for (let i = 0; i < 200; i++) v.sample(300);
    for (let i = 0; i < 1_500; i++) v.sample(20);
    assert.ok(v.slowerThan(100) < 0.001, `share still slow: ${v.slowerThan(100)}`);
  });

  it('says nothing before a few replies were seen', () => {
    const v = createLatencyView();
    for (let i = 0; i < 7; i++) v.sample(80);
    assert.equal(hedgeAfterMs(v, 0.5), null);
    v.sample(80);
    assert.notEqual(hedgeAfterMs(v, 0.5), null);
  });

  it('waits past the slow misses on a clean link, and only past the usual reply on a lossy one', () => {
    const v = createLatencyView();
    for (let i = 0; i < 200; i++) v.sample(i % 20 === 0 ? 200 : 1);
    const clean = hedgeAfterMs(v, 0)!;
    assert.ok(clean > 200, `clean link: the next copy after ${clean} ms, not before the 200 ms misses`);
    const steady = createLatencyView();
    for (let i = 0; i < 200; i++) steady.sample(80 + (i % 5));
    const lossy = hedgeAfterMs(steady, 0.5)!;
    assert.ok(lossy >= 84 && lossy < 95, `lossy link: the next copy after ${lossy} ms, soon after the usual reply`);
  });

  it('gives a copy at least the median reply time, even when nearly every copy was lost (just after an outage)', () => {
    const v = createLatencyView();
    for (let i = 0; i < 100; i++) v.sample(80 + (i % 5));
    assert.ok(hedgeAfterMs(v, 0.99)! >= 80, `after ${hedgeAfterMs(v, 0.99)} ms`);
  });
});
