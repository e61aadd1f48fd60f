import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { replyMatches } from '../../src/upstreams/reply-match.ts';
import { concat, header, opt, question, rr } from '../helpers/wire-build.ts';

const sent = concat(header({ id: 0xabcd, ar: 1 }), question('www.example.org', 1), opt());
const reply = (o: { id?: number; flags2?: number; qd?: number; name?: string; qtype?: number; qclass?: number; body?: number[] } = {}) =>
  concat(header({ id: o.id ?? 0xabcd, flags2: o.flags2 ?? 0x81, flags3: 0x80, qd: o.qd ?? 1 }), question(o.name ?? 'www.example.org', o.qtype ?? 1, o.qclass ?? 1), o.body ?? []);

describe('replyMatches (RFC 5452 §9.1)', () => {
  it('accepts a reply with our ID and question, in any letter case', () => {
    assert.equal(replyMatches(reply(), sent), true);
    assert.equal(replyMatches(reply({ name: 'WWW.Example.ORG' }), sent), true);
    assert.equal(replyMatches(reply({ body: rr([0xc0, 12], 1, 60, [1, 2, 3, 4]) }), sent), true);
  });

  it('rejects another ID, a query (QR=0), or QDCOUNT other than 1', () => {
    assert.equal(replyMatches(reply({ id: 0xabce }), sent), false);
    assert.equal(replyMatches(reply({ id: 0xbbcd }), sent), false);
    assert.equal(replyMatches(reply({ flags2: 0x01 }), sent), false);
    assert.equal(replyMatches(reply({ qd: 0 }), sent), false);
    assert.equal(replyMatches(reply({ qd: 2 }), sent), false);
  });

  it('rejects another name, type or class', () => {
    assert.equal(replyMatches(reply({ name: 'www.example.net' }), sent), false);
    assert.equal(replyMatches(reply({ name: 'ww.example.org' }), sent), false);
    assert.equal(replyMatches(reply({ name: 'www.example.org.x' }), sent), false);
    assert.equal(replyMatches(reply({ qtype: 28 }), sent), false);
    assert.equal(replyMatches(reply({ qclass: 3 }), sent), false);
  });

  it('rejects a reply cut short anywhere in its header or question', () => {
    const full = reply();
    for (let len = 0; len < full.length; len++) assert.equal(replyMatches(full.subarray(0, len), sent), false, `${len} bytes`);
  });

  it('rejects a compressed question name', () => {
    const b = concat(header({ id: 0xabcd, flags2: 0x81 }), [0xc0, 12, 0, 1, 0, 1]);
    assert.equal(replyMatches(b, sent), false);
  });
});
