// The checks a restored entry passes before the cache takes it (#15), made cheaper for #11:
// keyMismatch must give the verdict that building the key's query (queryFromKey) and matching
// the reply against it (replyMatches) gave, on sound entries and on garbled ones.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scanMessage } from '../../../src/core/wire/message.ts';
import { parseQuery, queryFromKey } from '../../../src/core/wire/query.ts';
import { keyMismatch, validatedMessage } from '../../../src/services/snapshot/validate.ts';
import { replyMatches } from '../../../src/upstreams/reply-match.ts';
import { createPrng } from '../../helpers/prng.ts';
import { query, reply } from '../../helpers/packets.ts';

function keyOf(q: Uint8Array): string {
  const r = parseQuery(q);
  if (!r.ok) throw new Error(r.problem);
  return r.query.key;
}

/** The reply to NAME (type A, TTL `ttl`) and the key a client's query for it gets. */
function entry(name: string, o: { do?: boolean; cd?: boolean; ttl?: number; tc?: boolean } = {}) {
  const q = query(name, 'A', { do: o.do, cd: o.cd });
  const wire = reply(q, { tc: o.tc, answers: [{ type: 'A', name, ttl: o.ttl ?? 300, class: 'IN', data: '192.0.2.1' }] });
  return { key: keyOf(q), wire };
}

/** The verdict before #11: the key's query built and parsed, the reply matched against it. */
function acceptedBefore(key: string, wire: Uint8Array): boolean {
  const question = queryFromKey(key);
  if (question === null) return false;
  const sent = question.bytes.slice();
  if (wire.length >= 2) sent.set(wire.subarray(0, 2), 0);
  return replyMatches(wire, sent);
}

const withChar = (s: string, i: number, c: number) => s.slice(0, i) + String.fromCharCode(c) + s.slice(i + 1);

describe('snapshot entry validation', () => {
  it('accepts a reply to its key, whatever the case of the name in the reply, with DO and CD', () => {
    for (const o of [{}, { do: true }, { cd: true }, { do: true, cd: true }]) {
      const { key, wire } = entry('www.example.org', o);
      wire[13] = 0x57; // "W": an upstream may echo the client's 0x20 mixing
      assert.equal(keyMismatch(key, wire), null, JSON.stringify(o));
    }
  });

  it('#15 - rejects a garbled entry: another name, type or class, no QR, two questions, cut short', () => {
    const { key, wire } = entry('www.example.org');
    const garbled = (at: number, v: number) => {
      const w = wire.slice();
      w[at] = v;
      return w;
    };
    assert.equal(keyMismatch(key, garbled(14, 0x78)), 'message does not answer its key', 'a letter of the name');
    assert.equal(keyMismatch(key, garbled(12, 4)), 'message does not answer its key', 'a label length');
    assert.equal(keyMismatch(key, garbled(12 + 17, 28)), 'message does not answer its key', 'the type');
    assert.equal(keyMismatch(key, garbled(12 + 19, 3)), 'message does not answer its key', 'the class');
    assert.equal(keyMismatch(key, garbled(2, wire[2] & 0x7f)), 'message does not answer its key', 'QR');
    assert.equal(keyMismatch(key, garbled(5, 2)), 'message does not answer its key', 'QDCOUNT');
    assert.equal(keyMismatch(key, wire.subarray(0, 12 + 17 + 3)), 'message does not answer its key', 'cut short');
  });

  it('#15 - rejects a key parseQuery could not have made', () => {
    const { key, wire } = entry('www.example.org');
    assert.equal(keyMismatch('k', wire), 'key is not a question');
    assert.equal(keyMismatch(withChar(key, 1, 0x57), wire), 'key is not a question', 'an upper-case letter');
    assert.equal(keyMismatch(withChar(key, key.length - 1, 4), wire), 'key is not a question', 'a flags byte beyond DO and CD');
    assert.equal(keyMismatch(withChar(key, 1, 0x100), wire), 'key is not a question', 'a char beyond a byte');
    assert.equal(keyMismatch(withChar(key, 0, 0x40), wire), 'key is not a question', 'a label type');
    assert.equal(keyMismatch(key.slice(0, 4) + key.slice(5), wire), 'key is not a question', 'the root before the name ends');
  });

  it('#11 - gives the verdict queryFromKey and replyMatches gave, over 20,000 garbled entries', () => {
    const prng = createPrng(1115);
    const names = ['www.example.org', 'a.b', 'x', 'MiXeD.Example.COM', `${'l'.repeat(63)}.${'m'.repeat(63)}.org`];
    let accepted = 0;
    for (let n = 0; n < 20_000; n++) {
      const e = entry(prng.pick(names), { do: prng.chance(0.5), cd: prng.chance(0.3) });
      let { key } = e;
      const wire = e.wire.slice();
      let w = wire;
      const questionEnd = 12 + key.length - 1;
      switch (prng.int(6)) {
        case 0: // a byte of the reply's header or question
          wire[prng.int(questionEnd)] = prng.chance(0.5) ? prng.int(256) : wire[prng.int(questionEnd)] ^ 0x20;
          break;
        case 1: // a char of the key: any byte, a case flip, or beyond a byte
          {
            const i = prng.int(key.length);
            const c = key.charCodeAt(i);
            key = withChar(key, i, prng.pick([prng.int(256), c ^ 0x20, c + 0x100, prng.int(64)]));
          }
          break;
        case 2: // the key cut or grown
          key = prng.chance(0.5) ? key.slice(0, prng.int(key.length)) : key + String.fromCharCode(prng.int(4));
          break;
        case 3: // the reply cut short
          w = wire.subarray(0, prng.int(questionEnd + 1));
          break;
        case 4: // the flags byte
          key = withChar(key, key.length - 1, prng.int(8));
          break;
        default: // left whole
      }
      const before = acceptedBefore(key, w);
      assert.equal(keyMismatch(key, w) === null, before, `entry ${n}: key ${JSON.stringify(key)}, wire ${Array.from(w.subarray(0, questionEnd + 1))}`);
      if (before) accepted++;
    }
    assert.ok(accepted > 2_000 && accepted < 18_000, `${accepted} accepted: both verdicts are exercised`);
  });

  it('#11 - gives a stored form of its own when the wire is a view of a whole file', () => {
    const { key, wire } = entry('www.example.org');
    const file = new Uint8Array(wire.length + 100);
    file.set(wire, 50);
    const m = validatedMessage(key, file.subarray(50, 50 + wire.length), 86_400);
    assert.ok(typeof m !== 'string', String(m));
    assert.notEqual(m.wire.buffer, file.buffer);
    assert.equal(m.wire.byteLength, m.wire.buffer.byteLength, 'the wire owns exactly its bytes');
  });

  it('#15 - makes the stored form from the wire: TTLs clamped, a truncated or unscannable reply rejected', () => {
    const { key, wire } = entry('day.example.org', { ttl: 86_400 });
    const m = validatedMessage(key, wire, 120);
    assert.ok(typeof m !== 'string', String(m));
    assert.deepEqual(m.ttls.filter((_, i) => i % 2 === 1), [120]);
    assert.equal(m.answerCount, 1);
    const tc = entry('tc.example.org', { tc: true });
    assert.equal(validatedMessage(tc.key, tc.wire, 120), 'truncated message');
    // The A record's data cut to 3 bytes: the question still matches, the record does not fit.
    const bad = wire.slice(0, wire.length - 1);
    bad[bad.length - 4] = 3;
    assert.equal(typeof scanMessage(bad), 'string');
    assert.equal(typeof validatedMessage(key, bad, 120), 'string');
  });
});
