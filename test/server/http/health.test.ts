import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCounters } from '../../../src/core/counters.ts';
import { createStaleWatch, STALE_WINDOW_MS } from '../../../src/server/http/health.ts';
import { createFakeTime } from '../../helpers/fake-clock.ts';

describe('stale watch', () => {
  it('reports stale answers for the window after the last one, then stops reporting', () => {
    const time = createFakeTime();
    const counters = createCounters();
    const w = createStaleWatch(counters, time, time);
    assert.equal(w.servingStale(), false);
    counters.answers_stale++;
    time.advance(1_000);
    assert.equal(w.servingStale(), true);
    time.advance(STALE_WINDOW_MS - 2_000);
    assert.equal(w.servingStale(), true);
    time.advance(2_000);
    assert.equal(w.servingStale(), false);
    w.stop();
    assert.equal(time.pendingTimers, 0);
  });

  it('notices stale answers between two looks through its once-a-second sample', () => {
    const time = createFakeTime();
    const counters = createCounters();
    const w = createStaleWatch(counters, time, time);
    time.advance(5_000);
    counters.answers_stale += 3;
    time.advance(1_000); // the sample sees them here, not at the next look
    time.advance(STALE_WINDOW_MS - 500);
    assert.equal(w.servingStale(), true);
    time.advance(1_000);
    assert.equal(w.servingStale(), false);
    w.stop();
  });
});
