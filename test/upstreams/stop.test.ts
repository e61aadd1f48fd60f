import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Stop } from '../../src/upstreams/stop.ts';

describe('#11 - Stop: the signal that calls off a copy, cheaper than an AbortController', () => {
  it('calls each listener once when stopped, the ones removed before never', () => {
    const stop = new Stop();
    const calls: string[] = [];
    const a = () => calls.push('a');
    const b = () => calls.push('b');
    const c = () => calls.push('c');
    stop.addEventListener('abort', a);
    stop.addEventListener('abort', b);
    stop.addEventListener('abort', c);
    stop.removeEventListener('abort', b);
    assert.equal(stop.aborted, false);
    stop.abort();
    stop.abort();
    assert.equal(stop.aborted, true);
    assert.deepEqual(calls.sort(), ['a', 'c']);
  });

  it('never calls a listener added after it stopped, as an AbortSignal would not', () => {
    const stop = new Stop();
    stop.abort();
    let called = false;
    stop.addEventListener('abort', () => {
      called = true;
    });
    stop.abort();
    assert.equal(called, false);
  });

  it('takes the transports that listen to it one after another, as a copy retried over TCP does', () => {
    const stop = new Stop();
    const calls: string[] = [];
    const udp = () => calls.push('udp');
    const tcp = () => calls.push('tcp');
    stop.addEventListener('abort', udp);
    stop.removeEventListener('abort', udp);
    stop.addEventListener('abort', tcp);
    stop.abort();
    assert.deepEqual(calls, ['tcp']);
  });
});
