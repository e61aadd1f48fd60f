import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, ClientInfo, Next } from '../../../src/core/answer.ts';
import { parseQuery, type Query } from '../../../src/core/wire/query.ts';
import { createAnyStage } from '../../../src/pipeline/policy/any-stage.ts';
import { rawQuery } from '../../helpers/wire-build.ts';

function q(qtype: number): Query {
  const r = parseQuery(rawQuery('example.org', { qtype }));
  if (!r.ok) throw new Error(r.problem);
  return r.query;
}

const client = (transport: 'udp' | 'tcp'): ClientInfo => ({ address: '192.0.2.1', port: 1, transport });
const PASSED: Answer = { source: 'upstream', reason: 'passed on', rcode: 0, message: null, ageSeconds: 0 };

describe('ANY stage (RFC 8482)', () => {
  it('answers ANY over UDP itself with the minimal reply, never reaching upstream', async () => {
    let called = 0;
    const next: Next = async () => {
      called++;
      return PASSED;
    };
    const a = await createAnyStage()({ query: q(255), client: client('udp') }, next);
    assert.equal(a.minimalAny, true);
    assert.equal(a.source, 'synthetic');
    assert.equal(called, 0);
  });

  it('passes ANY over TCP, and other types over UDP, down the chain', async () => {
    const next: Next = async () => PASSED;
    assert.equal(await createAnyStage()({ query: q(255), client: client('tcp') }, next), PASSED);
    assert.equal(await createAnyStage()({ query: q(1), client: client('udp') }, next), PASSED);
  });
});
