import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, Next, Stage } from '../../src/core/answer.ts';
import { createCounters } from '../../src/core/counters.ts';
import { DEFAULT_CONFIG } from '../../src/config/config.ts';
import { parseQuery } from '../../src/core/wire/query.ts';
import { compose, createPipeline } from '../../src/pipeline/chain.ts';
import { REBIND_NODATA_TTL_SECONDS } from '../../src/pipeline/forward/rebind.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';
import { createFakeNet } from '../helpers/fake-net.ts';
import { rawQuery } from '../helpers/wire-build.ts';
import { decode, query, reply } from '../helpers/packets.ts';

const ANSWER: Answer = { source: 'synthetic', reason: 'end', rcode: 0, message: null, ageSeconds: 0 };

function request() {
  const r = parseQuery(rawQuery('a.example'));
  if (!r.ok) throw new Error(r.problem);
  return { query: r.query, client: { address: '192.0.2.1', port: 1, transport: 'udp' as const } };
}

describe('compose', () => {
  it('runs the stages in the order given, then the last step', async () => {
    const seen: string[] = [];
    const tag = (name: string): Stage => (req, next) => {
      seen.push(name);
      return next(req);
    };
    const last: Next = async () => {
      seen.push('last');
      return ANSWER;
    };
    assert.equal(await compose([tag('a'), tag('b'), tag('c')], last)(request()), ANSWER);
    assert.deepEqual(seen, ['a', 'b', 'c', 'last']);
  });

  it('lets a stage answer without calling the rest', async () => {
    const seen: string[] = [];
    const answerNow: Stage = async () => ANSWER;
    const last: Next = async () => {
      seen.push('last');
      return ANSWER;
    };
    await compose([answerNow], last)(request());
    assert.deepEqual(seen, []);
  });
});

describe('createPipeline', () => {
  it('answers ANY over UDP before the cache and the upstreams', async () => {
    const time = createFakeTime();
    const fake = createFakeNet({});
    const p = createPipeline({ ...DEFAULT_CONFIG, upstreams: ['udp://192.0.2.53'] }, { clock: time, timers: time, entropy: { random: () => 0, id16: () => 1 }, net: fake.net }, createCounters());
    const r = parseQuery(rawQuery('a.example', { qtype: 255 }));
    assert.ok(r.ok);
    const a = await p.chain({ query: r.query, client: { address: '192.0.2.1', port: 1, transport: 'udp' } });
    assert.equal(a.minimalAny, true);
    assert.equal(fake.sent.length, 0);
    assert.equal(p.cache.size, 0);
  });

  it('refuses to build without an upstream, or with a bad one', () => {
    const time = createFakeTime();
    const ports = { clock: time, timers: time, entropy: { random: () => 0, id16: () => 1 }, net: createFakeNet({}).net };
    assert.throws(() => createPipeline({ ...DEFAULT_CONFIG, upstreams: [] }, ports, createCounters()), { code: 'HF_CONFIG' });
    assert.throws(() => createPipeline({ ...DEFAULT_CONFIG, upstreams: ['dns.example'] }, ports, createCounters()), { code: 'HF_CONFIG' });
  });
});

describe('#14 - forward zones, rewrites and rebind protection in the pipeline', () => {
  const answering = (address: string) => ({
    udp: (q: Uint8Array, send: (b: Uint8Array) => void) => {
      const name = decode(q).questions[0].name;
      send(reply(q, { answers: [{ name, type: 'A', ttl: 300, class: 'IN', data: address } as never] }));
    },
  });
  function build(extra: Partial<typeof DEFAULT_CONFIG>) {
    const time = createFakeTime();
    const fake = createFakeNet({ '192.0.2.53:53': answering('192.168.7.7'), '10.8.0.1:53': answering('10.8.1.1'), '192.168.1.1:53': answering('192.168.1.1') });
    const counters = createCounters();
    const p = createPipeline({ ...DEFAULT_CONFIG, upstreams: ['udp://192.0.2.53'], ...extra }, { clock: time, timers: time, entropy: { random: () => 0, id16: () => 1 }, net: fake.net }, counters);
    const ask = async (name: string, type = 'A') => {
      const r = parseQuery(query(name, type));
      assert.ok(r.ok);
      return p.chain({ query: r.query, client: { address: '192.168.1.20', port: 1, transport: 'udp' } });
    };
    const sentTo = (to: string) => fake.sent.filter((s) => s.to === to).map((s) => decode(s.bytes).questions[0].name);
    return { p, ask, sentTo, counters, time };
  }

  it('caches a forward zone answer and serves it from the cache, never asking the main upstream', async () => {
    const { ask, sentTo } = build({ forward: { zones: ['corp.example=udp://10.8.0.1'] } });
    const first = await ask('wiki.corp.example');
    assert.equal(first.source, 'forward-zone');
    assert.equal((await ask('wiki.corp.example')).source, 'cache-fresh');
    assert.deepEqual(sentTo('10.8.0.1:53'), ['wiki.corp.example']);
    assert.deepEqual(sentTo('192.0.2.53:53'), []);
  });

  it('hands a private reverse zone covered by a forward zone to it instead of local data', async () => {
    const { p, ask, sentTo } = build({ forward: { zones: ['168.192.in-addr.arpa=udp://192.168.1.1'] } });
    assert.equal((await ask('5.1.168.192.in-addr.arpa', 'PTR')).source, 'forward-zone');
    assert.deepEqual(sentTo('192.168.1.1:53'), ['5.1.168.192.in-addr.arpa']);
    // 10.in-addr.arpa is still answered locally.
    assert.equal((await ask('5.0.0.10.in-addr.arpa', 'PTR')).source, 'local');
    assert.deepEqual(p.forwardZones, ['168.192.in-addr.arpa.']);
  });

  it('never caches the LAN addresses rebind protection removed', async () => {
    const { p, ask, counters } = build({});
    const a = await ask('rebind.example');
    assert.equal(a.source, 'upstream');
    assert.equal(a.message?.answerCount, 0);
    assert.equal(counters.rebind_blocked, 1);
    const cached = [...p.cache.entries()];
    assert.equal(cached.length, 1);
    assert.equal(cached[0].message.answerCount, 0);
  });

  it('#14 - caches what is left of a stripped answer (NODATA, no SOA) for 60 s, so a repeat does not go upstream', async () => {
    const { ask, sentTo, time } = build({});
    assert.equal((await ask('rebind.example')).message?.answerCount, 0);
    const again = await ask('rebind.example');
    assert.equal(again.source, 'negative');
    assert.equal(again.message?.answerCount ?? 0, 0);
    assert.deepEqual(sentTo('192.0.2.53:53'), ['rebind.example']);
    // Past the minute (and the stale-while-revalidate window) it is asked again.
    time.advance((REBIND_NODATA_TTL_SECONDS + DEFAULT_CONFIG.cache.staleWhileRevalidateSeconds + 1) * 1000);
    await ask('rebind.example');
    assert.deepEqual(sentTo('192.0.2.53:53'), ['rebind.example', 'rebind.example']);
  });

  it('explains in chain order: local data, rewrite, forward zone, rebind', () => {
    const { p } = build({ forward: { zones: ['corp.example=udp://10.8.0.1'] }, rewrite: { rules: ['tv.example=192.0.2.80'] }, local: { ...DEFAULT_CONFIG.local, records: ['nas.lan A 192.168.1.10'] } });
    assert.match(p.explain('nas.lan', 1)[0].text, /local data: record/);
    assert.match(p.explain('ghost.lan', 1)[0].text, /under the local domain lan\., not in local data: NXDOMAIN/);
    assert.match(p.explain('9.9.168.192.in-addr.arpa', 12)[0].text, /private reverse zone 168\.192\.in-addr\.arpa\./);
    assert.equal(p.explain('tv.example', 1)[0].stage, 'rewrite');
    assert.equal(p.explain('x.corp.example', 1)[0].stage, 'forward-zone');
    assert.deepEqual(
      p.explain('www.example', 1).map((e) => e.stage),
      ['rebind', 'upstream'],
    );
  });
});
