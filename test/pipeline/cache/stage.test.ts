import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, ClientInfo, Next } from '../../../src/core/answer.ts';
import { createCounters } from '../../../src/core/counters.ts';
import { DEFAULT_CONFIG } from '../../../src/config/config.ts';
import { scanMessage, toStored, type StoredMessage } from '../../../src/core/wire/message.ts';
import { parseQuery, type Query } from '../../../src/core/wire/query.ts';
import { renderStored } from '../../../src/core/wire/reply.ts';
import { createCacheStage } from '../../../src/pipeline/cache/stage.ts';
import { createFakeTime } from '../../helpers/fake-clock.ts';
import { decode } from '../../helpers/packets.ts';
import { concat, header, question, rawQuery, rr, soaRdata } from '../../helpers/wire-build.ts';

const CLIENT: ClientInfo = { address: '192.0.2.9', port: 999, transport: 'udp' };

function q(name: string, o: Parameters<typeof rawQuery>[1] = {}): Query {
  const r = parseQuery(rawQuery(name, o));
  if (!r.ok) throw new Error(r.problem);
  return r.query;
}

function stored(qname: string, o: { rcode?: number; answers?: number[][]; authorities?: number[][] } = {}): StoredMessage {
  const an = o.answers ?? [];
  const ns = o.authorities ?? [];
  const b = concat(header({ flags2: 0x81, flags3: 0x80 | (o.rcode ?? 0), an: an.length, ns: ns.length }), question(qname), ...an, ...ns);
  const s = scanMessage(b);
  if (typeof s === 'string') throw new Error(s);
  return toStored(b, s, 86_400);
}

const A = (ttl: number) => rr([0xc0, 12], 1, ttl, [192, 0, 2, 1]);
const upstream = (message: StoredMessage, extra: Partial<Answer> = {}): Answer => ({ source: 'upstream', reason: 'test', rcode: message.rcode, message, ageSeconds: 0, ...extra });

function setup(reply: (query: Query) => Answer, cache: Partial<typeof DEFAULT_CONFIG.cache> = {}) {
  const time = createFakeTime();
  const counters = createCounters();
  const { stage, store } = createCacheStage({ ...DEFAULT_CONFIG.cache, ...cache }, { clock: time }, counters);
  let calls = 0;
  const next: Next = async (req) => {
    calls++;
    return reply(req.query);
  };
  const ask = (query: Query) => stage({ query, client: CLIENT }, next);
  return { time, counters, store, ask, calls: () => calls };
}

describe('cache stage', () => {
  it('answers a repeat from the cache with its age, case-insensitively', async () => {
    const { time, ask, calls, counters } = setup(() => upstream(stored('a.example', { answers: [A(300)] })));
    const first = await ask(q('a.example'));
    assert.equal(first.source, 'upstream');
    time.advance(42_900);
    const second = await ask(q('A.EXAMPLE'));
    assert.equal(calls(), 1);
    assert.equal(second.source, 'cache-fresh');
    assert.equal(second.ageSeconds, 42);
    assert.equal(second.reason, '258s left');
    assert.equal(counters.cache_inserts, 1);
  });

  it('refreshes an entry once it has expired: in the background just after, in line past the revalidate window', async () => {
    const { time, ask, calls, store } = setup(() => upstream(stored('a.example', { answers: [A(60)] })));
    await ask(q('a.example'));
    time.advance(59_999);
    await ask(q('a.example'));
    assert.equal(calls(), 1);
    time.advance(1);
    const revalidating = await ask(q('a.example'));
    assert.equal(revalidating.source, 'cache-revalidating');
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(calls(), 2, 'the background refresh went upstream');
    assert.equal((await ask(q('a.example'))).source, 'cache-fresh', 'and replaced the entry');
    time.advance(60_000 + 10_000);
    const again = await ask(q('a.example'));
    assert.equal(again.source, 'upstream');
    assert.equal(calls(), 3);
    assert.equal(store.size, 1);
  });

  it('serves a cached negative answer with the negative source', async () => {
    const nx = stored('nx.example', { rcode: 3, authorities: [rr([0xc0, 12], 6, 3600, soaRdata(30))] });
    const { time, ask, calls } = setup(() => upstream(nx));
    await ask(q('nx.example'));
    time.advance(29_000);
    const hit = await ask(q('nx.example'));
    assert.equal(hit.source, 'negative');
    assert.equal(hit.rcode, 3);
    time.advance(1_000);
    await ask(q('nx.example'));
    assert.equal(calls(), 2);
  });

  it('keeps apart queries that differ in type, DO or CD', async () => {
    const { ask, calls } = setup(() => upstream(stored('a.example', { answers: [A(300)] })));
    await ask(q('a.example'));
    await ask(q('a.example', { qtype: 28 }));
    await ask(q('a.example', { flags3: 0x10 }));
    await ask(q('a.example', { edns: [0, 0, 41, 4, 208, 0, 0, 0x80, 0, 0, 0] }));
    assert.equal(calls(), 4);
  });

  it('does not store answers it did not get from upstream, shared answers, or TTL-0 answers', async () => {
    const m = stored('a.example', { answers: [A(300)] });
    for (const answer of [
      upstream(m, { shared: true }),
      upstream(m, { source: 'synthetic' }),
      upstream(stored('a.example', { answers: [A(0)] })),
      { source: 'failure', reason: 'x', rcode: 2, message: null, ageSeconds: 0 } as Answer,
    ]) {
      const { ask, store, counters } = setup(() => answer);
      await ask(q('a.example'));
      assert.equal(store.size, 0, JSON.stringify({ ...answer, message: null }));
      assert.equal(counters.cache_inserts, 0);
    }
  });

  it('keeps SERVFAIL for the configured few seconds only', async () => {
    const { time, ask, calls } = setup(() => upstream(stored('a.example', { rcode: 2 })), { servfailTtlSeconds: 5 });
    await ask(q('a.example'));
    time.advance(4_999);
    const cached = await ask(q('a.example'));
    assert.equal(cached.rcode, 2);
    assert.equal(cached.source, 'cache-fresh', 'a kept SERVFAIL is not a negative answer');
    assert.equal(calls(), 1);
    time.advance(1);
    await ask(q('a.example'));
    assert.equal(calls(), 2);
  });

  it('publishes evictions in the counters', async () => {
    let n = 0;
    const { ask, counters } = setup(() => upstream(stored(`n${n}.example`, { answers: [A(300)] })), { maxEntries: 2 });
    for (n = 0; n < 5; n++) await ask(q(`n${n}.example`));
    assert.equal(counters.cache_inserts, 5);
    assert.equal(counters.cache_evicted_lru, 3);
  });

  it('#2 - never serves TTLs above the stored ones when the clock steps backwards', async () => {
    const clock = { nowMs: 1_700_000_000_000, now: () => clock.nowMs };
    const { stage } = createCacheStage(DEFAULT_CONFIG.cache, { clock }, createCounters());
    const next: Next = async () => upstream(stored('a.example', { answers: [A(300)] }));
    await stage({ query: q('a.example'), client: CLIENT }, next);
    clock.nowMs -= 60_000; // NTP steps the clock back a minute
    const hit = await stage({ query: q('a.example'), client: CLIENT }, next);
    assert.equal(hit.source, 'cache-fresh');
    const served = decode(renderStored(hit.message!, q('a.example'), hit.ageSeconds, 512));
    assert.equal(served.answers[0].ttl, 300);
  });
});

describe('#11 - the cache stage while the cache file loads', () => {
  function loadingSetup(reply: (query: Query) => Answer) {
    const time = createFakeTime();
    const { stage, store, loadingUntil } = createCacheStage({ ...DEFAULT_CONFIG.cache }, { clock: time }, createCounters());
    let finish = () => {};
    const loaded = new Promise<void>((resolve) => (finish = resolve));
    loadingUntil(loaded);
    const next: Next = async (req) => reply(req.query);
    return { store, time, finish, ask: (query: Query) => stage({ query, client: CLIENT }, next) };
  }
  const servfail = (): Answer => upstream(stored('x.example', { rcode: 2 }), { rcode: 2 });

  it('serves a name the file brings in once upstream fails for it, instead of SERVFAIL', async () => {
    const s = loadingSetup(servfail);
    const asked = s.ask(q('known.example'));
    // The load puts the name in after the miss went upstream.
    s.store.put(q('known.example').key, stored('known.example', { answers: [A(300)] }), s.time.now(), 300_000);
    s.finish();
    const a = await asked;
    assert.equal(a.source, 'cache-stale');
    assert.equal(a.reason, 'upstream failed; from the cache file, loaded meanwhile');
  });

  it('passes upstream failures on for names the file does not hold, and stops waiting once loaded', async () => {
    const s = loadingSetup(servfail);
    const asked = s.ask(q('unknown.example'));
    s.finish();
    assert.equal((await asked).rcode, 2);
    // After the load, a failure is answered without waiting on anything.
    assert.equal((await s.ask(q('other.example'))).rcode, 2);
  });

  it('answers from upstream at once while loading when upstream works', async () => {
    const s = loadingSetup(() => upstream(stored('up.example', { answers: [A(300)] })));
    const a = await s.ask(q('up.example'));
    assert.equal(a.source, 'upstream');
  });
});
