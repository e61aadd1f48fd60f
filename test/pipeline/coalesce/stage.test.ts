import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, ClientInfo, Next } from '../../../src/core/answer.ts';
import { createCounters } from '../../../src/core/counters.ts';
import { parseQuery, type Query } from '../../../src/core/wire/query.ts';
import { createCoalesceStage } from '../../../src/pipeline/coalesce/stage.ts';
import { drain } from '../../helpers/fake-net.ts';
import { rawQuery } from '../../helpers/wire-build.ts';

const CLIENT: ClientInfo = { address: '192.0.2.9', port: 999, transport: 'udp' };

function q(name: string, o: Parameters<typeof rawQuery>[1] = {}): Query {
  const r = parseQuery(rawQuery(name, o));
  if (!r.ok) throw new Error(r.problem);
  return r.query;
}

const ANSWER: Answer = { source: 'upstream', reason: 'test', rcode: 0, message: null, ageSeconds: 0 };

/** A next() whose exchanges the test settles by hand. */
function manualNext() {
  const calls: Array<{ query: Query; resolve: (a: Answer) => void; reject: (e: Error) => void }> = [];
  const next: Next = (req) => new Promise((resolve, reject) => calls.push({ query: req.query, resolve, reject }));
  return { next, calls };
}

describe('coalescing stage', () => {
  it('sends N identical concurrent misses down the chain once and gives every one the answer', async () => {
    const counters = createCounters();
    const { stage, inFlight } = createCoalesceStage(counters);
    const { next, calls } = manualNext();
    const pending = [1, 2, 3, 4, 5].map((id) => stage({ query: q(id % 2 ? 'a.example' : 'A.EXAMPLE', { id }), client: CLIENT }, next));
    assert.equal(calls.length, 1);
    assert.equal(inFlight(), 1);
    calls[0].resolve(ANSWER);
    const answers = await Promise.all(pending);
    assert.equal(answers[0].shared, undefined, 'the first asker owns the answer');
    assert.deepEqual(answers.slice(1).map((a) => a.shared), [true, true, true, true]);
    assert.equal(counters.coalesced, 4);
    await drain();
    assert.equal(inFlight(), 0);
  });

  it('hands a failure to every waiter', async () => {
    const { stage, inFlight } = createCoalesceStage(createCounters());
    const { next, calls } = manualNext();
    const pending = [1, 2, 3].map((id) => stage({ query: q('a.example', { id }), client: CLIENT }, next));
    calls[0].reject(new Error('all upstreams failed'));
    const results = await Promise.allSettled(pending);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
    await drain();
    assert.equal(inFlight(), 0);
  });

  it('does not merge different names, types or DO bits', async () => {
    const { stage } = createCoalesceStage(createCounters());
    const { next, calls } = manualNext();
    stage({ query: q('a.example'), client: CLIENT }, next);
    stage({ query: q('b.example'), client: CLIENT }, next);
    stage({ query: q('a.example', { qtype: 28 }), client: CLIENT }, next);
    stage({ query: q('a.example', { edns: [0, 0, 41, 4, 208, 0, 0, 0x80, 0, 0, 0] }), client: CLIENT }, next);
    assert.equal(calls.length, 4);
    for (const c of calls) c.resolve(ANSWER);
  });

  it('asks again for a query that arrives after the shared exchange has finished', async () => {
    const { stage } = createCoalesceStage(createCounters());
    const { next, calls } = manualNext();
    const first = stage({ query: q('a.example'), client: CLIENT }, next);
    calls[0].resolve(ANSWER);
    await first;
    await drain();
    stage({ query: q('a.example'), client: CLIENT }, next);
    assert.equal(calls.length, 2);
    calls[1].resolve(ANSWER);
  });

  it('asks again after a failed exchange instead of replaying the failure', async () => {
    const { stage } = createCoalesceStage(createCounters());
    const { next, calls } = manualNext();
    const first = stage({ query: q('a.example'), client: CLIENT }, next);
    calls[0].reject(new Error('timeout'));
    await assert.rejects(Promise.resolve(first));
    await drain();
    const second = stage({ query: q('a.example'), client: CLIENT }, next);
    assert.equal(calls.length, 2);
    calls[1].resolve(ANSWER);
    assert.equal((await second).rcode, 0);
  });
});
