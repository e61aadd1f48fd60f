import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, Next, Stage } from '../../src/core/answer.ts';
import { createCounters } from '../../src/core/counters.ts';
import { DEFAULT_CONFIG } from '../../src/config/config.ts';
import { parseQuery } from '../../src/core/wire/query.ts';
import { compose, createPipeline } from '../../src/pipeline/chain.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';
import { createFakeNet } from '../helpers/fake-net.ts';
import { rawQuery } from '../helpers/wire-build.ts';

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
