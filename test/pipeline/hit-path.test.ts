// #11's fast path for cache hits (handle.hit and the pipeline's HitPath) against the whole chain
// (handle()): the same bytes for every kind of fresh hit, the same counters, and never an
// answer that a stage above the cache would have made instead.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientInfo } from '../../src/core/answer.ts';
import { DEFAULT_CONFIG, type ServerConfig } from '../../src/config/config.ts';
import { createCounters, type Counters } from '../../src/core/counters.ts';
import { createHandle } from '../../src/core/handle.ts';
import { createLatencyHistograms } from '../../src/core/latency.ts';
import { scanMessage, toStored } from '../../src/core/wire/message.ts';
import { parseQuery } from '../../src/core/wire/query.ts';
import { createAdmission } from '../../src/gate/admission.ts';
import { loadBlockList } from '../../src/pipeline/block/load.ts';
import { createPipeline } from '../../src/pipeline/chain.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';
import { createFakeNet } from '../helpers/fake-net.ts';
import { decode, reply, soa } from '../helpers/packets.ts';
import { opt, rawQuery } from '../helpers/wire-build.ts';

const ADDRESS = '192.168.1.20';
const CLIENT: ClientInfo = { address: ADDRESS, port: 40_000, transport: 'udp' };

/** The upstream: NXDOMAIN and NODATA for two names, 40 A records for big.*, one A otherwise. */
function respond(q: Uint8Array, send: (b: Uint8Array) => void) {
  const question = decode(q).questions[0];
  const name = question.name.toLowerCase();
  const a = (data: string) => ({ name: question.name, type: 'A', ttl: 300, class: 'IN', data }) as never;
  if (name.startsWith('nx.')) send(reply(q, { rcode: 'NXDOMAIN', authorities: [soa('example', 3600, 120)] }));
  else if (question.type === 'AAAA') send(reply(q, { authorities: [soa('example', 3600, 90)] }));
  else if (name.startsWith('big.')) send(reply(q, { answers: Array.from({ length: 40 }, (_, i) => a(`192.0.2.${i + 1}`)) }));
  else send(reply(q, { answers: [a('192.0.2.1')] }));
}

function build(extra: Partial<ServerConfig> = {}) {
  const time = createFakeTime();
  const fake = createFakeNet({ '192.0.2.53:53': { udp: respond } });
  const config: ServerConfig = { ...DEFAULT_CONFIG, upstreams: ['udp://192.0.2.53'], ...extra };
  const ports = { clock: time, timers: time, entropy: { random: () => 0, id16: () => 1 }, net: fake.net };
  const p = createPipeline(config, ports, createCounters());
  const fastCounters = createCounters();
  const fullCounters = createCounters();
  const latency = { fast: createLatencyHistograms(), full: createLatencyHistograms() };
  const fast = createHandle(p.chain, fastCounters, { hits: p.hits, latency: { histograms: latency.fast, now: () => time.now() } });
  const full = createHandle(p.chain, fullCounters, { latency: { histograms: latency.full, now: () => time.now() } });
  return { p, time, fake, fast, full, fastCounters, fullCounters, latency, config };
}

/** The fast path's reply as a copy (its buffer is reused by the next call), or what it returned. */
function hit(h: ReturnType<typeof build>['fast'], bytes: Uint8Array, address = ADDRESS): Uint8Array | null | undefined {
  const r = h.hit!(bytes, address);
  return r instanceof Uint8Array ? r.slice() : r;
}

const COUNTED: ReadonlyArray<keyof Counters> = ['queries_udp', 'answers_cache_fresh', 'answers_negative', 'truncated_udp', 'acl_refused', 'rate_limited_truncated'];
const counted = (c: Counters) => Object.fromEntries(COUNTED.map((k) => [k, c[k]]));

describe('#11 - fresh cache hits without the chain (handle.hit)', () => {
  it('gives byte for byte the reply handle() gives, for every kind of fresh hit', async () => {
    const t = build();
    const variants: Array<[string, Uint8Array]> = [
      ['plain, with EDNS', rawQuery('www.example', { id: 0x0101 })],
      ['another ID, the name in mixed case (0x20)', rawQuery('wWw.ExAmPlE', { id: 0xbeef })],
      ['no EDNS', rawQuery('www.example', { id: 7, edns: null })],
      ['EDNS 4096 with DO', rawQuery('www.example', { id: 8, edns: opt(4096, { do: true }) })],
      ['CD set', rawQuery('www.example', { id: 9, flags3: 0x10 })],
      ['AD set in the query', rawQuery('www.example', { id: 10, flags3: 0x20 })],
      ['RD clear', rawQuery('www.example', { id: 11, flags2: 0 })],
      ['NXDOMAIN (negative)', rawQuery('nx.example', { id: 12 })],
      ['NODATA (negative)', rawQuery('www.example', { id: 13, qtype: 28 })],
      ['too big for 512 bytes without EDNS: TC=1, the question alone', rawQuery('big.example', { id: 14, edns: null })],
      ['the same name within 1232 bytes', rawQuery('big.example', { id: 15 })],
      ['EDNS asking for 512 (below our 1232)', rawQuery('big.example', { id: 16, edns: opt(512) })],
    ];
    // The first ask fills the cache through the chain; the fast path finds nothing before it.
    assert.equal(hit(t.fast, variants[0][1]), undefined, 'a miss is left to handle()');
    for (const [, bytes] of variants) await t.full(bytes, CLIENT);
    t.time.advance(7_000);
    for (const [what, bytes] of variants) {
      const fast = hit(t.fast, bytes);
      assert.ok(fast instanceof Uint8Array, `${what}: answered by the fast path`);
      const full = (await t.full(bytes, CLIENT)) as Uint8Array;
      assert.deepEqual(fast, full, what);
    }
    // The TTLs did count down, the ID and spelling are the client's, and truncation happened.
    const d = decode(hit(t.fast, variants[1][1]) as Uint8Array);
    assert.equal(d.id, 0xbeef);
    assert.equal(d.questions[0].name, 'wWw.ExAmPlE');
    assert.equal(d.answers[0].ttl, 293);
    assert.equal(decode(hit(t.fast, variants[9][1]) as Uint8Array).flag_tc, true);
  });

  it('counts what handle() counts, and records each answer by its source', async () => {
    const t = build();
    const names = [rawQuery('www.example'), rawQuery('nx.example'), rawQuery('big.example', { edns: null })];
    for (const q of names) await t.full(q, CLIENT);
    const before = counted(t.fullCounters);
    for (const q of names) await t.full(q, CLIENT);
    const fullDelta = Object.fromEntries(COUNTED.map((k) => [k, t.fullCounters[k] - before[k]]));
    for (const q of names) hit(t.fast, q);
    assert.deepEqual(counted(t.fastCounters), fullDelta);
    assert.deepEqual(fullDelta, { queries_udp: 3, answers_cache_fresh: 2, answers_negative: 1, truncated_udp: 1, acl_refused: 0, rate_limited_truncated: 0 });
    assert.equal(t.latency.fast.read('cache-fresh').count, 2);
    assert.equal(t.latency.fast.read('negative').count, 1);
  });

  it('counts a use of the entry as the cache stage does (LRU and popularity)', async () => {
    const t = build();
    await t.full(rawQuery('a.example'), CLIENT);
    await t.full(rawQuery('b.example'), CLIENT);
    const slots = () => t.p.cache.slots().map((s) => t.p.cache.keyAt(s).charCodeAt(1));
    assert.deepEqual(slots(), ['a'.charCodeAt(0), 'b'.charCodeAt(0)]);
    const popularity = t.p.cache.popularityOf(t.p.cache.slots()[0]);
    assert.ok(hit(t.fast, rawQuery('a.example')) instanceof Uint8Array);
    // a.example is now the most recently used, and one hit more popular.
    assert.deepEqual(slots(), ['b'.charCodeAt(0), 'a'.charCodeAt(0)]);
    assert.ok(t.p.cache.popularityOf(t.p.cache.slots()[1]) > popularity);
  });

  it('leaves expired entries (serve-stale) and uncached questions to handle()', async () => {
    const t = build();
    await t.full(rawQuery('www.example'), CLIENT);
    assert.ok(hit(t.fast, rawQuery('www.example')) instanceof Uint8Array);
    // Another type, class or DO/CD bit is another question.
    assert.equal(hit(t.fast, rawQuery('www.example', { qtype: 28 })), undefined);
    assert.equal(hit(t.fast, rawQuery('www.example', { edns: opt(1232, { do: true }) })), undefined);
    assert.equal(hit(t.fast, rawQuery('www.example', { flags3: 0x10 })), undefined);
    t.time.advance(301_000);
    assert.equal(hit(t.fast, rawQuery('www.example')), undefined);
    assert.equal(t.fastCounters.queries_udp, 1, 'nothing counted for what handle() takes');
    const stale = decode((await t.full(rawQuery('www.example'), CLIENT)) as Uint8Array);
    assert.equal(stale.answers[0].data, '192.0.2.1');
  });

  it('leaves to handle() whatever is not a plain query', async () => {
    const t = build();
    await t.full(rawQuery('www.example'), CLIENT);
    const q = rawQuery('www.example');
    const response = q.slice();
    response[2] |= 0x80;
    const notify = q.slice();
    notify[2] = (4 << 3) | 1;
    for (const bytes of [q.subarray(0, 11), response, notify, rawQuery('www.example', { edns: opt(1232, { version: 1 }) })]) {
      assert.equal(hit(t.fast, bytes), undefined);
    }
    assert.equal(t.fastCounters.queries_udp, 0);
  });

  it('never answers from the cache what a stage above it answers: ANY, local data, its zones, rewrites, block lists', async () => {
    const t = build({
      local: { ...DEFAULT_CONFIG.local, records: ['nas.lan A 192.168.1.10'] },
      rewrite: { rules: ['tv.example=192.0.2.80', '*.cdn.example=192.0.2.81'] },
    });
    t.p.block.setLists([loadBlockList('ads.txt', new TextEncoder().encode('0.0.0.0 ads.example\n')).list]);
    const cases: Array<[string, Uint8Array, string]> = [
      ['ANY over UDP', rawQuery('any.example', { qtype: 255 }), 'synthetic'],
      ['a name of local data, in any case', rawQuery('NAS.lan'), 'local'],
      ['a name under the local domain', rawQuery('ghost.lan'), 'local'],
      ['a private reverse name', rawQuery('5.0.0.10.in-addr.arpa', { qtype: 12 }), 'local'],
      ['a rewritten name', rawQuery('tv.example'), 'rewrite'],
      ['a name under a rewritten domain', rawQuery('a.b.CDN.example'), 'rewrite'],
      ['a blocked name', rawQuery('ads.example'), 'blocked'],
      ["Firefox's canary", rawQuery('use-application-dns.net'), 'blocked'],
    ];
    // Each question cached as if an upstream had answered it (the stages above would never let it
    // through to the cache): only the stage's own answer may come back.
    const now = t.time.now();
    for (const [, bytes] of cases) {
      const parsed = parseQuery(bytes);
      assert.ok(parsed.ok);
      const upstream = reply(bytes, { answers: [{ name: decode(bytes).questions[0].name, type: 'A', ttl: 300, class: 'IN', data: '203.0.113.66' } as never] });
      const scan = scanMessage(upstream);
      assert.ok(typeof scan !== 'string');
      t.p.cache.set(parsed.query.key, toStored(upstream, scan, 86_400), now, 300_000);
    }
    for (const [what, bytes] of cases) {
      assert.equal(hit(t.fast, bytes), undefined, what);
      const answers: string[] = [];
      const handled = createHandle(t.p.chain, createCounters(), { onAnswered: (h) => answers.push(h.answer?.source ?? 'failure') });
      await handled(bytes, CLIENT);
      assert.deepEqual(answers, [cases.find((c) => c[1] === bytes)![2]], what);
    }
    // A neighbour of each is still a plain hit.
    await t.full(rawQuery('www.example'), CLIENT);
    assert.ok(hit(t.fast, rawQuery('www.example')) instanceof Uint8Array);
  });

  it('turns away a refused or rate-limited client as handle() does, counting it once', async () => {
    const t = build();
    const admission = createAdmission(
      { ...DEFAULT_CONFIG.access, refusedPerSecond: 0 },
      { ...DEFAULT_CONFIG.rateLimit, perClientQps: 1, perClientBurst: 1, action: 'truncate' },
      t.time,
      t.fastCounters,
    );
    const gated = createHandle(t.p.chain, t.fastCounters, { hits: t.p.hits, admit: admission.admitFrom });
    await t.full(rawQuery('www.example'), CLIENT);
    const refused = gated.hit!(rawQuery('www.example'), '198.51.100.4');
    assert.ok(refused instanceof Uint8Array);
    assert.equal(decode(refused).rcode, 'REFUSED');
    assert.ok(gated.hit!(rawQuery('www.example'), ADDRESS) instanceof Uint8Array);
    const slipped = gated.hit!(rawQuery('www.example'), ADDRESS) as Uint8Array;
    assert.equal(decode(slipped).flag_tc, true);
    assert.equal(decode(slipped).answers.length, 0);
    assert.deepEqual(counted(t.fastCounters), { queries_udp: 3, answers_cache_fresh: 1, answers_negative: 0, truncated_udp: 0, acl_refused: 1, rate_limited_truncated: 1 });
  });

  it('is not offered with a query log: every answer then needs its record', () => {
    const t = build();
    assert.equal(createHandle(t.p.chain, createCounters(), { hits: t.p.hits, onAnswered: () => {} }).hit, undefined);
    assert.equal(createHandle(t.p.chain, createCounters()).hit, undefined);
  });
});
