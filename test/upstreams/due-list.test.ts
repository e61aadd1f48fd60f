import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DueList, type DueItem } from '../../src/upstreams/due-list.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';

/** A fake clock, a list on it, and the log its items write to. */
function setup() {
  const time = createFakeTime();
  return { time, start: time.now(), list: new DueList(time, time), log: [] as string[] };
}

function item(log: string[], name: string, time: { now(): number }, start: number, then?: () => void): DueItem {
  return {
    dueAtMs: Infinity,
    dueIndex: -1,
    due() {
      log.push(`${name}@${time.now() - start}`);
      then?.();
    },
  };
}

describe('#11 - DueList: one timer for many moments', () => {
  it('calls each item at its own moment, on one timer', () => {
    const { time, start, list, log } = setup();
    list.schedule(item(log, 'a', time, start), 300);
    list.schedule(item(log, 'b', time, start), 100);
    list.schedule(item(log, 'c', time, start), 200.5);
    assert.equal(time.pendingTimers, 1);
    time.advance(1_000);
    assert.deepEqual(log, ['b@100', 'c@200.5', 'a@300']);
    assert.equal(list.size, 0);
    assert.equal(time.pendingTimers, 0);
  });

  it('does not call an item cancelled, nor at its old moment one scheduled again', () => {
    const { time, start, list, log } = setup();
    const a = item(log, 'a', time, start);
    const b = item(log, 'b', time, start);
    list.schedule(a, 100);
    list.schedule(b, 150);
    list.cancel(a);
    list.cancel(a);
    list.schedule(b, 400);
    time.advance(1_000);
    assert.deepEqual(log, ['b@400']);
  });

  it('leaves no timer once its last item is cancelled', () => {
    const { time, list } = setup();
    const a = item([], 'a', time, 0);
    const b = item([], 'b', time, 0);
    list.schedule(a, 100);
    list.schedule(b, 200);
    list.cancel(a);
    assert.equal(time.pendingTimers, 1, 'b still waits');
    list.cancel(b);
    assert.equal(time.pendingTimers, 0);
    assert.equal(list.size, 0);
  });

  it('lets an item schedule itself again, or another, from its call', () => {
    const { time, start, list, log } = setup();
    let rounds = 0;
    const other = item(log, 'other', time, start);
    const a: DueItem = item(log, 'a', time, start, () => {
      if (++rounds < 3) list.schedule(a, 50);
      else list.schedule(other, 10);
    });
    list.schedule(a, 50);
    time.advance(1_000);
    assert.deepEqual(log, ['a@50', 'a@100', 'a@150', 'other@160']);
  });

  it('waits on when its timer fires before the moment (runtimes round), on the monotonic clock when there is one', () => {
    const time = createFakeTime();
    let monotonic = 5_000;
    const clock = { now: () => time.now(), monotonicMs: () => monotonic };
    const log: string[] = [];
    const list = new DueList(clock, time);
    list.schedule(item(log, 'a', { now: () => monotonic }, 5_000), 100);
    // The wall clock steps; the monotonic one has moved only 99 ms when the timer fires.
    monotonic += 99;
    time.advance(100);
    assert.deepEqual(log, [], 'not yet due');
    assert.equal(time.pendingTimers, 1, 'set again for the rest');
    monotonic += 1;
    time.advance(1);
    assert.deepEqual(log, ['a@100']);
  });
});
