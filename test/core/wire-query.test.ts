import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuery, QueryProblem } from '../../src/core/wire/query.ts';
import { query } from '../helpers/packets.ts';

function parsed(bytes: Uint8Array) {
  const r = parseQuery(bytes);
  assert.ok(r.ok, `expected a query, got ${!r.ok && r.problem}`);
  return r.query;
}

describe('parseQuery', () => {
  it('reads ID, question and EDNS', () => {
    const q = parsed(query('WWW.Example.org', 'AAAA', { id: 0xbeef, edns: 4096, do: true }));
    assert.equal(q.id, 0xbeef);
    assert.equal(q.qtype, 28);
    assert.equal(q.qclass, 1);
    assert.deepEqual(q.edns, { udpSize: 4096, version: 0, do: true });
  });

  it('keys case-insensitively, and apart by type and DO', () => {
    const a = parsed(query('WWW.Example.org')).key;
    assert.equal(parsed(query('www.example.ORG')).key, a);
    assert.notEqual(parsed(query('www.example.org', 'AAAA')).key, a);
    assert.notEqual(parsed(query('www.example.org', 'A', { do: true })).key, a);
  });

  it('raises an advertised size below 512 to 512 (RFC 6891 §6.2.5)', () => {
    assert.equal(parsed(query('a.example', 'A', { edns: 100 })).edns?.udpSize, 512);
  });

  it('rejects responses, other opcodes, QDCOUNT != 1 and short packets', () => {
    const q = query('a.example');
    const resp = q.slice();
    resp[2] |= 0x80;
    assert.equal((parseQuery(resp) as { problem: string }).problem, QueryProblem.response);
    const notify = q.slice();
    notify[2] = (notify[2] & 0x87) | (4 << 3);
    assert.equal((parseQuery(notify) as { problem: string }).problem, QueryProblem.opcode);
    const two = q.slice();
    two[5] = 2;
    assert.equal((parseQuery(two) as { problem: string }).problem, QueryProblem.qdcount);
    assert.equal((parseQuery(q.subarray(0, 11)) as { problem: string }).problem, QueryProblem.short);
  });

  it('calls a compression pointer in the question malformed', () => {
    const q = query('a.example', 'A', { edns: false });
    const bad = new Uint8Array([...q.subarray(0, 12), 0xc0, 0x0c, 0, 1, 0, 1]);
    assert.equal((parseQuery(bad) as { problem: string }).problem, QueryProblem.malformed);
  });

  it('answers an EDNS version above 0 with BADVERS', () => {
    const q = query('a.example');
    // The OPT record is last; its TTL's second byte is the version.
    q[q.length - 5] = 1;
    const r = parseQuery(q);
    assert.equal(!r.ok && r.problem, QueryProblem.badVersion);
  });
});
