import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, ClientInfo, Next } from '../../../src/core/answer.ts';
import { DEFAULT_CONFIG } from '../../../src/config/config.ts';
import { createCounters } from '../../../src/core/counters.ts';
import { HoldfastError, ErrorCode } from '../../../src/core/errors.ts';
import { scanMessage, toStored, type StoredMessage } from '../../../src/core/wire/message.ts';
import { parseQuery, type Query } from '../../../src/core/wire/query.ts';
import { createCacheStage } from '../../../src/pipeline/cache/stage.ts';
import { createFakeTime } from '../../helpers/fake-clock.ts';
import { settle } from '../../helpers/fake-net.ts';
import { query, reply } from '../../helpers/packets.ts';

const CLIENT: ClientInfo = { address: '192.0.2.100', port: 5353, transport: 'udp' };
const TTL = 300;

function q(name: string): Query {
  const r = parseQuery(query(name));
  if (!r.ok) throw new Error(r.problem);
  return r.query;
}

function stored(name: string, rcode = 'NOERROR'): StoredMessage {
  const bytes = reply(query(name), { rcode, answers: rcode === 'NOERROR' ? [{ type: 'A', name, ttl: TTL, class: 'IN', data: '192.0.2.1' }] : [] });
  const s = scanMessage(bytes);
  if (typeof s === 'string') throw new Error(s);
  return toStored(bytes, s, 86_400);
}

const upstream = (m: StoredMessage): Answer => ({ source: 'upstream', reason: 'test', rcode: m.rcode, message: m, ageSeconds: 0 });

/** A cache stage whose upstream does whatever `behaviour` says for each call. */
function setup(behaviour: () => Answer | Promise<Answer>, guards: { noStale?: string[]; maxStale?: string[] } = {}) {
  const time = createFakeTime();
  const counters = createCounters();
  let calls = 0;
  const next: Next = () => {
    calls++;
    return behaviour();
  };
  const { stage, guardStale } = createCacheStage({ ...DEFAULT_CONFIG.cache, ...guards }, { clock: time, timers: time }, counters);
  const ask = (name = 'www.example.org') => stage({ query: q(name), client: CLIENT }, next);
  return { time, ask, calls: () => calls, guardStale };
}

/** Advances fake time until the stage's answer (sync or not) is ready. */
const answerOf = (a: Answer | Promise<Answer>, time: ReturnType<typeof createFakeTime>) => settle(Promise.resolve(a), time);

/** An upstream that answers the first query, then holds every later one until `release`. */
function answersThenHolds() {
  let first = true;
  let release: ((a: Answer) => void) | null = null;
  const behaviour = (): Answer | Promise<Answer> => {
    if (first) {
      first = false;
      return upstream(stored('www.example.org'));
    }
    return new Promise<Answer>((r) => {
      release = r;
    });
  };
  return { behaviour, release: (a: Answer) => release!(a) };
}

describe('serve-stale (RFC 8767)', () => {
  it('serves the expired answer with TTL 30 when the refresh fails', async () => {
    let mode: 'ok' | 'fail' = 'ok';
    const s = setup(() => (mode === 'ok' ? upstream(stored('www.example.org')) : Promise.reject(new HoldfastError(ErrorCode.upstreamsExhausted, 'down'))));
    await s.ask();
    s.time.advance((TTL + 60) * 1000);
    mode = 'fail';
    const a = await answerOf(s.ask(), s.time);
    assert.equal(a.source, 'cache-stale');
    assert.equal(a.ttlOverrideSeconds, 30);
    assert.equal(a.rcode, 0);
    assert.equal(s.calls(), 2);
  });

  it('never lets an upstream SERVFAIL replace a good answer', async () => {
    let rcode = 'NOERROR';
    const s = setup(() => upstream(stored('www.example.org', rcode)));
    await s.ask();
    s.time.advance((TTL + 11) * 1000);
    rcode = 'SERVFAIL';
    assert.equal((await answerOf(s.ask(), s.time)).source, 'cache-stale');
    s.time.advance(31_000);
    const again = await answerOf(s.ask(), s.time);
    assert.equal(again.source, 'cache-stale', 'the good answer is still there to serve');
    assert.equal(again.rcode, 0);
  });

  it('answers stale after the client wait when the upstream is slow, and keeps the late answer', async () => {
    const up = answersThenHolds();
    const s = setup(up.behaviour);
    await s.ask();
    s.time.advance((TTL + 11) * 1000);
    const a = await answerOf(s.ask(), s.time);
    assert.equal(a.source, 'cache-stale');
    assert.match(a.reason, /slower than 1800 ms/);
    up.release(upstream(stored('www.example.org')));
    await new Promise((r) => setTimeout(r, 0));
    const fresh = await s.ask();
    assert.equal(fresh.source, 'cache-fresh', 'the late refresh went into the cache');
  });

  it('does not ask again for 30 s after a failed refresh, then does', async () => {
    let fail = false;
    const s = setup(() => (fail ? Promise.reject(new Error('down')) : upstream(stored('www.example.org'))));
    await s.ask();
    s.time.advance((TTL + 11) * 1000);
    fail = true;
    await answerOf(s.ask(), s.time);
    const calls = s.calls();
    s.time.advance(10_000);
    const a = await s.ask();
    assert.equal(a.source, 'cache-stale');
    assert.equal(s.calls(), calls, 'no upstream query within the recheck interval');
    s.time.advance(21_000);
    await answerOf(s.ask(), s.time);
    assert.equal(s.calls(), calls + 1);
  });

  it('refreshes an expired entry normally when the upstream answers', async () => {
    const s = setup(() => upstream(stored('www.example.org')));
    await s.ask();
    s.time.advance((TTL + 11) * 1000);
    const a = await answerOf(s.ask(), s.time);
    assert.equal(a.source, 'upstream');
  });

  it('gives up on an entry past the stale-if-error window: the failure reaches the client', async () => {
    let fail = false;
    const s = setup(() => (fail ? Promise.reject(new HoldfastError(ErrorCode.upstreamsExhausted, 'down')) : upstream(stored('www.example.org'))));
    await s.ask();
    s.time.advance((TTL + 3 * 86_400 + 1) * 1000);
    fail = true;
    await assert.rejects(Promise.resolve(s.ask()));
  });
});

describe('stale-while-revalidate', () => {
  it('answers a just-expired entry at once and refreshes it in the background, once however many ask', async () => {
    const up = answersThenHolds();
    const s = setup(up.behaviour);
    await s.ask();
    s.time.advance((TTL + 5) * 1000);
    const answers = [await s.ask(), await s.ask(), await s.ask()];
    assert.deepEqual(answers.map((a) => a.source), ['cache-revalidating', 'cache-revalidating', 'cache-revalidating']);
    assert.equal(answers[0].ttlOverrideSeconds, 30);
    assert.equal(s.calls(), 2, 'one background refresh for three clients');
    up.release(upstream(stored('www.example.org')));
    await new Promise((r) => setTimeout(r, 0));
    assert.equal((await s.ask()).source, 'cache-fresh');
  });

  it('keeps the old answer when the background refresh fails, and waits before asking again', async () => {
    let fail = false;
    const s = setup(() => (fail ? Promise.reject(new Error('down')) : upstream(stored('www.example.org'))));
    await s.ask();
    s.time.advance((TTL + 2) * 1000);
    fail = true;
    assert.equal((await s.ask()).source, 'cache-revalidating');
    await new Promise((r) => setTimeout(r, 0));
    const calls = s.calls();
    s.time.advance(20_000);
    const a = await s.ask();
    assert.equal(a.source, 'cache-stale');
    assert.equal(s.calls(), calls, 'the failure is remembered');
  });
});

describe('#12 - stale answers with guardrails', () => {
  const NAMES = ['www.example.org', 'home.dyn.example', 'lb.example.com', 'x.lb.example.com'];
  /** Every name cached, then expired `pastSeconds` ago, with the upstreams failing. */
  async function expiredAndFailing(guards: { noStale?: string[]; maxStale?: string[] }, pastSeconds: number) {
    let failing = false;
    const s = setup((): Answer | Promise<Answer> => {
      if (failing) return Promise.reject(new HoldfastError(ErrorCode.upstreamsExhausted, 'down'));
      return upstream(stored('www.example.org'));
    }, guards);
    for (const name of NAMES) await s.ask(name);
    s.time.advance((TTL + pastSeconds) * 1000);
    failing = true;
    const outcome = async (name: string) => {
      try {
        const a = await answerOf(s.ask(name), s.time);
        return a.source;
      } catch {
        return 'failure';
      }
    };
    return { s, outcome };
  }

  it('never serves a --no-stale name stale, nor names under it; others are served stale', async () => {
    const { outcome } = await expiredAndFailing({ noStale: ['dyn.example', 'LB.example.com.'] }, 60);
    assert.equal(await outcome('www.example.org'), 'cache-stale');
    assert.equal(await outcome('home.dyn.example'), 'failure', 'the upstream error goes to the client (SERVFAIL)');
    assert.equal(await outcome('lb.example.com'), 'failure');
    assert.equal(await outcome('x.lb.example.com'), 'failure');
  });

  it('does not answer a --no-stale name at once from expired data while refreshing it either', async () => {
    const { outcome } = await expiredAndFailing({ noStale: ['dyn.example'] }, 1);
    assert.equal(await outcome('www.example.org'), 'cache-revalidating');
    assert.equal(await outcome('home.dyn.example'), 'failure');
  });

  it('serves a --max-stale name stale within its window and not past it; the longest domain wins', async () => {
    const guards = { maxStale: ['example.com=600', 'x.lb.example.com=7200'] };
    const early = await expiredAndFailing(guards, 300);
    assert.equal(await early.outcome('lb.example.com'), 'cache-stale');
    const late = await expiredAndFailing(guards, 3_600);
    assert.equal(await late.outcome('lb.example.com'), 'failure', 'an hour past expiry, beyond example.com=600');
    assert.equal(await late.outcome('x.lb.example.com'), 'cache-stale', 'x.lb.example.com=7200 is the longer match');
    assert.equal(await late.outcome('www.example.org'), 'cache-stale', 'no rule: --stale-if-error (3 days)');
  });

  it('says how far past expiry a stale answer is, and in which window; the TTL stays 30', async () => {
    const { s } = await expiredAndFailing({ maxStale: ['example.com=600'] }, 100);
    const a = await answerOf(s.ask('lb.example.com'), s.time);
    assert.deepEqual(a.stale, { pastExpirySeconds: 100, windowSeconds: 600 });
    assert.equal(a.ttlOverrideSeconds, 30);
    const other = await answerOf(s.ask('www.example.org'), s.time);
    assert.deepEqual(other.stale, { pastExpirySeconds: 100, windowSeconds: DEFAULT_CONFIG.cache.staleIfErrorSeconds });
  });

  it('puts new rules in force on a reload', async () => {
    const { s, outcome } = await expiredAndFailing({}, 60);
    assert.equal(await outcome('home.dyn.example'), 'cache-stale');
    s.guardStale({ noStale: ['dyn.example'], maxStale: [] });
    s.time.advance(60_000); // past the recheck window, so the stage asks again
    assert.equal(await outcome('home.dyn.example'), 'failure');
    s.guardStale({ noStale: [], maxStale: [] });
    assert.equal(await outcome('home.dyn.example'), 'cache-stale');
  });
});
