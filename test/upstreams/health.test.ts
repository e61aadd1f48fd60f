import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRtoEstimator } from '../../src/upstreams/health/rto.ts';
import { BreakerState, createBreaker } from '../../src/upstreams/health/breaker.ts';
import { createRetryBudget } from '../../src/upstreams/health/retry-budget.ts';

describe('retransmit timeout (RFC 6298)', () => {
  const opts = { minMs: 100, maxMs: 4000, initialMs: 1000 };

  it('starts at the initial RTO and follows the first sample as SRTT + 4·(R/2)', () => {
    const rto = createRtoEstimator(opts);
    assert.equal(rto.rtoMs, 1000);
    rto.sample(80);
    assert.equal(rto.srttMs, 80);
    assert.equal(rto.rttvarMs, 40);
    assert.equal(rto.rtoMs, 80 + 160);
  });

  it('smooths later samples with gains 1/8 and 1/4', () => {
    const rto = createRtoEstimator(opts);
    rto.sample(80);
    rto.sample(160);
    assert.equal(rto.rttvarMs, 0.75 * 40 + 0.25 * 80);
    assert.equal(rto.srttMs, 0.875 * 80 + 0.125 * 160);
  });

  it('doubles on timeouts up to the cap, and resets on the next sample', () => {
    const rto = createRtoEstimator(opts);
    rto.sample(200); // RTO 600
    rto.backOff();
    assert.equal(rto.rtoMs, 1200);
    rto.backOff();
    rto.backOff();
    rto.backOff();
    assert.equal(rto.rtoMs, 4000);
    rto.sample(200);
    assert.ok(rto.rtoMs < 1200);
  });

  it('never goes below the floor on a very fast link', () => {
    const rto = createRtoEstimator(opts);
    for (let i = 0; i < 50; i++) rto.sample(1);
    assert.equal(rto.rtoMs, 100);
  });
});

describe('circuit breaker', () => {
  const opts = { failureThreshold: 3, baseCooldownMs: 1000, maxCooldownMs: 8000 };

  it('opens after consecutive failures and skips the upstream', () => {
    const b = createBreaker(opts, () => 0.999);
    b.failure(0);
    b.failure(0);
    assert.equal(b.state(0), BreakerState.closed);
    b.failure(0);
    assert.equal(b.state(0), BreakerState.open);
    assert.equal(b.allow(500), false);
  });

  it('a success between failures resets the count', () => {
    const b = createBreaker(opts, () => 0.5);
    b.failure(0);
    b.failure(0);
    b.success();
    b.failure(0);
    b.failure(0);
    assert.equal(b.state(0), BreakerState.closed);
  });

  it('lets exactly one probe through after the cooldown, and closes when it succeeds', () => {
    const b = createBreaker(opts, () => 0.999);
    for (let i = 0; i < 3; i++) b.failure(0);
    assert.equal(b.allow(999), false);
    assert.equal(b.allow(1000), true, 'the probe');
    assert.equal(b.allow(1001), false, 'only one probe at a time');
    b.success();
    assert.equal(b.state(1002), BreakerState.closed);
    assert.equal(b.allow(1002), true);
  });

  it('reopens with a longer, capped cooldown when the probe fails', () => {
    const b = createBreaker(opts, () => 0.999);
    for (let i = 0; i < 3; i++) b.failure(0);
    let now = 0;
    const cooldowns: number[] = [];
    for (let i = 0; i < 6; i++) {
      now = b.retryAtMs;
      assert.equal(b.allow(now), true);
      b.failure(now);
      cooldowns.push(Math.round(b.retryAtMs - now));
    }
    assert.deepEqual(cooldowns, [2000, 4000, 8000, 8000, 8000, 8000].map((c) => Math.round(c * (0.5 + 0.999 / 2))));
  });

  it('jitters cooldowns between half and all of the nominal value', () => {
    const low = createBreaker(opts, () => 0);
    const high = createBreaker(opts, () => 0.999999);
    for (let i = 0; i < 3; i++) {
      low.failure(0);
      high.failure(0);
    }
    assert.equal(low.retryAtMs, 500);
    assert.ok(high.retryAtMs > 999 && high.retryAtMs < 1000);
  });
});

describe('retry budget', () => {
  it('allows retries up to the ratio of first attempts, beyond the floor', () => {
    const budget = createRetryBudget({ ratio: 0.2, minPerSecond: 0, windowMs: 10_000 });
    for (let i = 0; i < 100; i++) budget.deposit(0);
    let granted = 0;
    for (let i = 0; i < 50; i++) if (budget.tryWithdraw(0)) granted++;
    assert.equal(granted, 20);
    assert.equal(budget.refused, 30);
  });

  it('always allows the per-second floor, even with no traffic', () => {
    const budget = createRetryBudget({ ratio: 0.1, minPerSecond: 1, windowMs: 5_000 });
    let granted = 0;
    for (let i = 0; i < 20; i++) if (budget.tryWithdraw(0)) granted++;
    assert.equal(granted, 5, 'one per second of window');
  });

  it('forgets deposits older than the window', () => {
    const budget = createRetryBudget({ ratio: 1, minPerSecond: 0, windowMs: 3_000 });
    for (let i = 0; i < 10; i++) budget.deposit(0);
    assert.equal(budget.tryWithdraw(2_500), true);
    assert.equal(budget.tryWithdraw(3_500), false, 'deposits from second 0 have expired');
  });

  it('keeps total retries within ratio × attempts + floor over a long failing run', () => {
    const budget = createRetryBudget({ ratio: 0.2, minPerSecond: 2, windowMs: 10_000 });
    let attempts = 0;
    let retries = 0;
    for (let t = 0; t < 60_000; t += 10) {
      budget.deposit(t);
      attempts++;
      // Every query fails and would like three retries.
      for (let r = 0; r < 3; r++) if (budget.tryWithdraw(t)) retries++;
    }
    assert.ok(retries <= attempts * 0.2 + 2 * 70, `${retries} retries for ${attempts} attempts`);
    assert.ok(retries >= attempts * 0.2 * 0.9, 'the budget is actually usable');
  });
});

describe('circuit breaker: an abandoned probe', () => {
  it('lets the next query probe when the probe ended without a verdict', () => {
    const b = createBreaker({ failureThreshold: 1, baseCooldownMs: 1000, maxCooldownMs: 1000 }, () => 0.5);
    b.failure(0);
    assert.equal(b.state(0), BreakerState.open);
    assert.equal(b.allow(1000), true, 'half-open: one probe');
    assert.equal(b.allow(1000), false, 'only one');
    b.abandon();
    assert.equal(b.state(1000), BreakerState.halfOpen);
    assert.equal(b.allow(1000), true, 'another probe after the first was abandoned');
  });
});
