import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, type HoldfastError } from '../../src/core/errors.ts';
import { startDeadline } from '../../src/upstreams/deadline.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';

describe('#13 - startDeadline: a wait ended by its timeout or its signal, cleaned up once', () => {
  it('ends with upstreamTimeout after the timeout, once, with the message asked for', () => {
    const time = createFakeTime();
    const ended: HoldfastError[] = [];
    startDeadline(time, 100, () => 'no reply within 100 ms', (e) => ended.push(e));
    time.advance(99);
    assert.equal(ended.length, 0);
    time.advance(1);
    time.advance(1000);
    assert.deepEqual(ended.map((e) => [e.code, e.message]), [[ErrorCode.upstreamTimeout, 'no reply within 100 ms']]);
  });

  it('ends with upstreamAborted when the signal fires, and its timer no longer runs', () => {
    const time = createFakeTime();
    const stop = new AbortController();
    const ended: HoldfastError[] = [];
    startDeadline(time, 100, () => 'late', (e) => ended.push(e), stop.signal);
    stop.abort();
    time.advance(500);
    assert.deepEqual(ended.map((e) => e.code), [ErrorCode.upstreamAborted]);
  });

  it('ends at once, before it returns, for a signal already aborted', () => {
    const time = createFakeTime();
    const stop = new AbortController();
    stop.abort();
    const ended: HoldfastError[] = [];
    startDeadline(time, 100, () => 'late', (e) => ended.push(e), stop.signal);
    assert.deepEqual(ended.map((e) => e.code), [ErrorCode.upstreamAborted]);
  });

  it('never ends once cancelled: no timer fires, no abort listener is left', () => {
    const time = createFakeTime();
    const stop = new AbortController();
    const ended: HoldfastError[] = [];
    const d = startDeadline(time, 100, () => 'late', (e) => ended.push(e), stop.signal);
    d.cancel();
    d.cancel();
    stop.abort();
    time.advance(500);
    assert.deepEqual(ended, []);
  });
});
