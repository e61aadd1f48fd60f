import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scanMessage, toStored, type StoredMessage } from '../../../src/core/wire/message.ts';
import { parseQuery, type Query } from '../../../src/core/wire/query.ts';
import {
  bareReply, headerOnlyReply, minimalAnyReply, OUR_UDP_SIZE, renderStored, replyLimit, upstreamQuery,
} from '../../../src/core/wire/reply.ts';
import { decode, query } from '../../helpers/packets.ts';
import { concat, header, opt, question, rawQuery, rr } from '../../helpers/wire-build.ts';

const PTR = [0xc0, 12];
const A = (ttl: number, last = 1) => rr(PTR, 1, ttl, [192, 0, 2, last]);

function parsed(bytes: Uint8Array): Query {
  const r = parseQuery(bytes);
  if (!r.ok) assert.fail(`not a query: ${r.problem}`);
  return r.query;
}

function stored(bytes: Uint8Array, maxTtl = 86_400): StoredMessage {
  const s = scanMessage(bytes);
  if (typeof s === 'string') assert.fail(`not a reply: ${s}`);
  return toStored(bytes, s, maxTtl);
}

/** An upstream reply to a question for `qname`, as the cache would keep it. */
function storedReply(qname: string, records: number[][], o: { rcode?: number; ad?: boolean; qtype?: number } = {}): StoredMessage {
  return stored(concat(header({ id: 0x4242, flags2: 0x81, flags3: 0x80 | (o.ad ? 0x20 : 0) | (o.rcode ?? 0), an: records.length }), question(qname, o.qtype ?? 1), ...records));
}

/** An answer whose whole message is `size` bytes for the question "a.example" (27 bytes with header). */
function storedOfSize(size: number): StoredMessage {
  const rdlen = size - 27 - 12;
  const m = storedReply('a.example', [rr(PTR, 65280, 60, new Array(rdlen).fill(0x78))]);
  assert.equal(m.wire.length, size);
  return m;
}

const answerTtls = (b: Uint8Array) => decode(b).answers.map((r) => r.ttl);
const optOf = (b: Uint8Array) => decode(b).additionals.find((r) => r.type === 'OPT') as
  | { udpPayloadSize: number; extendedRcode: number; ednsVersion: number; flag_do: boolean }
  | undefined;

describe('renderStored', () => {
  it("gives the client's ID and its spelling of the name (0x20 clients)", () => {
    const m = storedReply('www.example.org', [A(300)]);
    const out = renderStored(m, parsed(rawQuery('WwW.ExAmple.ORG', { id: 0xabcd })), 0, 512);
    const d = decode(out);
    assert.equal(d.id, 0xabcd);
    assert.equal(d.questions[0].name, 'WwW.ExAmple.ORG');
    assert.equal(d.answers[0].name, 'WwW.ExAmple.ORG', 'the answer points at the question');
  });

  it('counts TTLs down by the age and stops at 0', () => {
    const m = storedReply('a.example', [A(300), A(30, 2)]);
    const q = parsed(rawQuery('a.example'));
    assert.deepEqual(answerTtls(renderStored(m, q, 0, 512)), [300, 30]);
    assert.deepEqual(answerTtls(renderStored(m, q, 29, 512)), [271, 1]);
    assert.deepEqual(answerTtls(renderStored(m, q, 31, 512)), [269, 0]);
    assert.deepEqual(answerTtls(renderStored(m, q, 10_000, 512)), [0, 0]);
  });

  it('#2 - never serves a TTL above the stored one, even for a negative age (clock stepped back)', () => {
    const m = storedReply('a.example', [A(300)]);
    assert.deepEqual(answerTtls(renderStored(m, parsed(rawQuery('a.example')), -50, 512)), [300]);
  });

  it('sets every TTL to the override, as stale answers need (RFC 8767 §4)', () => {
    const m = storedReply('a.example', [A(300), A(5, 2)]);
    assert.deepEqual(answerTtls(renderStored(m, parsed(rawQuery('a.example')), 100_000, 512, 30)), [30, 30]);
  });

  it('leaves the stored message unchanged, so every client gets its own copy', () => {
    const m = storedReply('a.example', [A(300)]);
    const before = m.wire.slice();
    renderStored(m, parsed(rawQuery('A.EXAMPLE', { id: 9 })), 100, 512);
    assert.deepEqual(m.wire, before);
  });

  it('fits a 512-byte answer to a client without EDNS and truncates a 513-byte one (RFC 1035 §4.2.1)', () => {
    const q = parsed(rawQuery('a.example', { edns: null }));
    const limit = replyLimit(q, 'udp');
    assert.equal(limit, 512);
    const fits = decode(renderStored(storedOfSize(512), q, 0, limit));
    assert.equal(fits.flag_tc, false);
    assert.equal(fits.answers.length, 1);
    const over = renderStored(storedOfSize(513), q, 0, limit);
    const d = decode(over);
    assert.equal(d.flag_tc, true);
    assert.equal(d.questions.length, 1);
    assert.deepEqual([d.answers.length, d.authorities.length, d.additionals.length], [0, 0, 0]);
    assert.equal(d.id, 0x1234);
  });

  it('#2 - sends no more over UDP than we advertise ourselves, even to a client that takes more', () => {
    const q = parsed(rawQuery('a.example', { edns: opt(4096) }));
    const limit = replyLimit(q, 'udp');
    assert.equal(limit, OUR_UDP_SIZE);
    assert.equal(decode(renderStored(storedOfSize(1500), q, 0, limit)).flag_tc, true);
  });

  it('truncates to the size the client advertised with EDNS, counting our OPT (RFC 6891 §6.2.5)', () => {
    const q = parsed(rawQuery('a.example', { edns: opt(1000) }));
    const limit = replyLimit(q, 'udp');
    assert.equal(limit, 1000);
    assert.equal(decode(renderStored(storedOfSize(989), q, 0, limit)).flag_tc, false);
    const over = decode(renderStored(storedOfSize(990), q, 0, limit));
    assert.equal(over.flag_tc, true);
    assert.equal(over.answers.length, 0);
    assert.ok(optOf(renderStored(storedOfSize(990), q, 0, limit)), 'a truncated reply still carries OPT');
  });

  it('lets TCP take what UDP cannot', () => {
    const q = parsed(rawQuery('a.example', { edns: null }));
    assert.equal(replyLimit(q, 'tcp'), 65535);
    assert.equal(decode(renderStored(storedOfSize(4000), q, 0, replyLimit(q, 'tcp'))).flag_tc, false);
  });

  it('appends an OPT only when the client sent one, and counts it in ARCOUNT', () => {
    const m = storedReply('a.example', [A(300)]);
    const without = renderStored(m, parsed(rawQuery('a.example', { edns: null })), 0, 512);
    assert.equal(without.length, m.wire.length);
    assert.equal(optOf(without), undefined);
    const withOpt = renderStored(m, parsed(rawQuery('a.example', { edns: opt(4096) })), 0, 4096);
    assert.equal(withOpt.length, m.wire.length + 11);
    assert.equal(withOpt[11], 1);
    const o = optOf(withOpt);
    assert.ok(o);
    assert.equal(o.udpPayloadSize, OUR_UDP_SIZE);
    assert.equal(o.ednsVersion, 0);
    assert.equal(o.extendedRcode, 0);
  });

  it('echoes DO in our OPT (RFC 3225 §3)', () => {
    const m = storedReply('a.example', [A(300)]);
    assert.equal(optOf(renderStored(m, parsed(rawQuery('a.example', { edns: opt(1232, { do: true }) })), 0, 1232))?.flag_do, true);
    assert.equal(optOf(renderStored(m, parsed(rawQuery('a.example', { edns: opt(1232) })), 0, 1232))?.flag_do, false);
  });

  it('passes AD only to clients that set DO or AD (RFC 6840 §5.8)', () => {
    const m = storedReply('a.example', [A(300)], { ad: true });
    const ad = (q: Uint8Array) => decode(renderStored(m, parsed(q), 0, 4096)).flag_ad;
    assert.equal(ad(rawQuery('a.example')), false);
    assert.equal(ad(rawQuery('a.example', { edns: opt(1232, { do: true }) })), true);
    assert.equal(ad(rawQuery('a.example', { flags3: 0x20 })), true);
    const notValidated = storedReply('a.example', [A(300)]);
    assert.equal(decode(renderStored(notValidated, parsed(rawQuery('a.example', { flags3: 0x20 })), 0, 512)).flag_ad, false);
  });

  it('sets QR and RA, echoes RD and CD, and keeps the stored rcode', () => {
    const m = storedReply('nx.example', [], { rcode: 3 });
    const d = decode(renderStored(m, parsed(rawQuery('nx.example', { flags2: 0, flags3: 0x10 })), 0, 512));
    assert.deepEqual([d.flag_qr, d.flag_ra, d.flag_rd, d.flag_cd, d.flag_aa], [true, true, false, true, false]);
    assert.equal(d.rcode, 'NXDOMAIN');
  });

  it('#2 - appends OPT right after the last record when the upstream reply had trailing bytes', () => {
    const b = concat(header({ flags2: 0x81, flags3: 0x80, an: 1 }), question('a.example'), A(300), [0xc0, 0x0c, 0xff]);
    const out = renderStored(stored(b), parsed(rawQuery('a.example', { edns: opt(1232, { do: true }) })), 0, 1232);
    const d = decode(out);
    assert.equal(d.answers.length, 1);
    assert.equal(optOf(out)?.flag_do, true);
    assert.equal(typeof scanMessage(out), 'object');
  });
});

describe('bareReply', () => {
  it('carries the question only, with the rcode', () => {
    const q = parsed(rawQuery('Www.Example', { id: 5, edns: null }));
    const out = bareReply(q, 2);
    assert.equal(out.length, q.questionEnd);
    const d = decode(out);
    assert.equal(d.id, 5);
    assert.equal(d.rcode, 'SERVFAIL');
    assert.equal(d.questions[0].name, 'Www.Example');
    assert.deepEqual([d.answers.length, d.authorities.length, d.additionals.length], [0, 0, 0]);
  });

  it('drops records the client sent besides the question and OPT', () => {
    const bytes = concat(header({ an: 1, ar: 1 }), question('a.example'), A(1), opt());
    const d = decode(bareReply(parsed(bytes), 5));
    assert.equal(d.answers.length, 0);
    assert.deepEqual(d.additionals.map((r) => r.type), ['OPT']);
  });

  it('encodes BADVERS as extended rcode 1 in OPT and 0 in the header (RFC 6891 §6.1.3)', () => {
    const r = parseQuery(rawQuery('a.example', { edns: opt(1232, { version: 1 }) }));
    assert.ok(!r.ok && r.query);
    const out = bareReply(r.query, 16);
    assert.equal(out[3] & 0x0f, 0);
    assert.equal(optOf(out)?.extendedRcode, 1);
    assert.equal(optOf(out)?.ednsVersion, 0, 'we answer with the version we speak');
  });

  it('sets TC when asked', () => {
    assert.equal(decode(bareReply(parsed(rawQuery('a.example')), 0, true)).flag_tc, true);
  });
});

describe('headerOnlyReply', () => {
  it('echoes ID, opcode and RD with no sections at all', () => {
    const bytes = Uint8Array.from([...header({ id: 0x7777, flags2: (4 << 3) | 1, qd: 3, an: 9 }), 1, 2, 3]);
    const out = headerOnlyReply(bytes, 4);
    assert.equal(out.length, 12);
    assert.deepEqual([...out], [0x77, 0x77, 0x80 | (4 << 3) | 1, 0x84, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('does not echo AA, TC or the Z bits', () => {
    const bytes = Uint8Array.from(header({ flags2: 0x07, flags3: 0x7f }));
    const out = headerOnlyReply(bytes, 1);
    assert.equal(out[2], 0x81);
    assert.equal(out[3], 0x81);
  });
});

describe('minimalAnyReply', () => {
  it('answers with one HINFO "RFC8482" record named like the question (RFC 8482 §4.2)', () => {
    const out = minimalAnyReply(parsed(rawQuery('Example.ORG', { qtype: 255, edns: null, id: 3 })));
    const d = decode(out);
    assert.equal(d.id, 3);
    assert.equal(d.answers.length, 1);
    assert.equal(d.answers[0].type, 'HINFO');
    assert.equal(d.answers[0].name, 'Example.ORG');
    assert.deepEqual(d.answers[0].data, { cpu: 'RFC8482', os: '' });
    assert.equal(d.additionals.length, 0);
  });

  it('adds an OPT for an EDNS client', () => {
    const out = minimalAnyReply(parsed(rawQuery('example.org', { qtype: 255, edns: opt(1232, { do: true }) })));
    assert.equal(optOf(out)?.flag_do, true);
  });
});

describe('upstreamQuery', () => {
  it('asks with our ID, RD, AD and our own OPT, keeping the client question and its DO and CD', () => {
    const q = parsed(concat(header({ id: 1, flags2: 0, flags3: 0x10, an: 1, ar: 2 }), question('Www.Example', 28), A(1), A(2), opt(4096, { do: true })));
    const out = upstreamQuery(q, 0xfeed);
    const d = decode(out);
    assert.equal(d.id, 0xfeed);
    assert.deepEqual([d.flag_qr, d.flag_rd, d.flag_ad, d.flag_cd], [false, true, true, true]);
    assert.deepEqual(d.questions, [{ name: 'Www.Example', type: 'AAAA', class: 'IN' }]);
    assert.equal(d.answers.length, 0);
    assert.equal(d.additionals.length, 1);
    const o = optOf(out);
    assert.equal(o?.udpPayloadSize, OUR_UDP_SIZE);
    assert.equal(o?.flag_do, true);
  });

  it('sends DO=0 for a client without EDNS', () => {
    assert.equal(optOf(upstreamQuery(parsed(query('a.example', 'A', { edns: false })), 1))?.flag_do, false);
  });

  it('builds a query that dns-packet and our parser both read back', () => {
    const out = upstreamQuery(parsed(rawQuery('a.example')), 2);
    assert.ok(parseQuery(out).ok);
    assert.equal(decode(out).questions[0].name, "a.example");
  });
});
