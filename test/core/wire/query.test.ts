import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuery, queryFromKey, QueryProblem, type ParseResult, type Query } from '../../../src/core/wire/query.ts';
import { decode, query } from '../../helpers/packets.ts';
import { concat, header, name, opt, question, rawQuery, rr, u16be } from '../../helpers/wire-build.ts';

function ok(bytes: Uint8Array): Query {
  const r = parseQuery(bytes);
  assert.ok(r.ok, `expected a query, got ${!r.ok && `${r.problem} (${r.detail})`}`);
  return r.query;
}

function problem(r: ParseResult): string {
  return r.ok ? 'ok' : r.problem;
}

describe('parseQuery: the question', () => {
  it('finds the name end, type and class, and keeps the bytes as sent', () => {
    const bytes = rawQuery('Mail.Example', { qtype: 15, edns: null });
    const q = ok(bytes);
    assert.equal(q.nameEnd, 12 + 14);
    assert.equal(q.questionEnd, q.nameEnd + 4);
    assert.equal(q.qtype, 15);
    assert.equal(q.qclass, 1);
    assert.equal(q.bytes, bytes);
    assert.equal(q.edns, null);
  });

  it('reads RD, CD and AD from the header', () => {
    const q = ok(rawQuery('a.example', { flags2: 0x00, flags3: 0x30 }));
    assert.deepEqual([q.rd, q.cd, q.ad], [false, true, true]);
    const r = ok(rawQuery('a.example', { flags2: 0x01, flags3: 0 }));
    assert.deepEqual([r.rd, r.cd, r.ad], [true, false, false]);
  });

  it('#11 - gives the case-folded name alone as nameKey, the prefix of the cache key, with no trace of the last query', () => {
    const a = ok(rawQuery('Mail.Example', { qtype: 15 }));
    const b = ok(rawQuery('x.example', { qtype: 1, edns: opt(1232, { do: true }) }));
    const again = ok(rawQuery('MAIL.example', { qtype: 15 }));
    assert.equal(a.nameKey, '\x04mail\x07example\x00');
    assert.ok(a.key.startsWith(a.nameKey));
    assert.equal(a.key.length, a.nameKey.length + 5);
    assert.equal(again.key, a.key, 'the key suffix is rebuilt for each query, not left over from the one before');
    assert.notEqual(b.key.slice(-5), a.key.slice(-5));
  });

  it('accepts the root name as a question', () => {
    const q = ok(rawQuery('.', { qtype: 2 }));
    assert.equal(q.nameEnd, 13);
  });

  it('keys apart by class and by CD, but not by ID, RD or AD', () => {
    const base = ok(rawQuery('a.example', { id: 1 })).key;
    assert.equal(ok(rawQuery('A.EXAMPLE', { id: 2, flags2: 0, flags3: 0x20 })).key, base);
    assert.notEqual(ok(rawQuery('a.example', { flags3: 0x10 })).key, base);
    const chaos = concat(header({ ar: 0 }), [...name('a.example'), ...u16be(1), ...u16be(3)]);
    assert.notEqual(ok(chaos).key, ok(rawQuery('a.example', { edns: null })).key);
  });

  it('calls a question cut short malformed', () => {
    const full = rawQuery('a.example', { edns: null });
    for (let len = 12; len < full.length; len++) assert.equal(problem(parseQuery(full.subarray(0, len))), QueryProblem.malformed, `${len} bytes`);
  });

  it('calls an over-long name or a reserved label type malformed', () => {
    const long = concat(header(), Array.from({ length: 5 }, () => [60, ...new Array(60).fill(0x61)]).flat(), [0, 0, 1, 0, 1]);
    assert.equal(problem(parseQuery(long)), QueryProblem.malformed);
    const reserved = concat(header(), [0x41, 0x61, 0, 0, 1, 0, 1]);
    assert.equal(problem(parseQuery(reserved)), QueryProblem.malformed);
  });

  it('checks QR before the opcode and the opcode before QDCOUNT', () => {
    const all = Uint8Array.from(header({ flags2: 0x80 | (5 << 3), qd: 0 }));
    assert.equal(problem(parseQuery(all)), QueryProblem.response);
    const notQr = Uint8Array.from(header({ flags2: 5 << 3, qd: 0 }));
    assert.equal(problem(parseQuery(notQr)), QueryProblem.opcode);
  });

  it('rejects QDCOUNT 0 and QDCOUNT 0xffff as qdcount problems', () => {
    assert.equal(problem(parseQuery(Uint8Array.from(header({ qd: 0 })))), QueryProblem.qdcount);
    assert.equal(problem(parseQuery(concat(header({ qd: 0xffff }), question('a.example')))), QueryProblem.qdcount);
  });
});

describe('parseQuery: EDNS (RFC 6891)', () => {
  it('finds the OPT record after other additional records', () => {
    const bytes = concat(header({ ar: 2 }), question('a.example'), rr([0xc0, 12], 1, 60, [192, 0, 2, 1]), opt(4096, { do: true }));
    assert.deepEqual(ok(bytes).edns, { udpSize: 4096, version: 0, do: true });
  });

  it('#11 - shares one frozen Edns object between queries with the same EDNS fields', () => {
    const a = ok(rawQuery('a.example', { edns: opt(1232, { do: true }) })).edns;
    const b = ok(rawQuery('b.example', { edns: opt(1232, { do: true }) })).edns;
    const c = ok(rawQuery('c.example', { edns: opt(1232) })).edns;
    assert.equal(a, b);
    assert.ok(Object.isFrozen(a));
    assert.deepEqual(c, { udpSize: 1232, version: 0, do: false });
  });

  it('reads sizes up to 65535 and raises sizes under 512 to 512', () => {
    assert.equal(ok(rawQuery('a.example', { edns: opt(65535) })).edns?.udpSize, 65535);
    assert.equal(ok(rawQuery('a.example', { edns: opt(0) })).edns?.udpSize, 512);
  });

  it('rejects an OPT in the answer or authority section', () => {
    const inAnswer = concat(header({ an: 1, ar: 0 }), question('a.example'), opt());
    assert.equal(problem(parseQuery(inAnswer)), QueryProblem.malformed);
    const inAuthority = concat(header({ ns: 1, ar: 0 }), question('a.example'), opt());
    assert.equal(problem(parseQuery(inAuthority)), QueryProblem.malformed);
  });

  it('rejects two OPT records (RFC 6891 §6.1.1)', () => {
    const two = concat(header({ ar: 2 }), question('a.example'), opt(), opt());
    assert.equal(problem(parseQuery(two)), QueryProblem.malformed);
  });

  it('rejects an OPT whose owner is not the root', () => {
    const named = concat(header({ ar: 1 }), question('a.example'), opt(1232, { owner: [0xc0, 12] }));
    assert.equal(problem(parseQuery(named)), QueryProblem.malformed);
  });

  it('rejects records whose data runs past the end, or counts larger than the records sent', () => {
    const cut = rawQuery('a.example', { edns: opt() });
    cut[cut.length - 1] = 5; // RDLENGTH 5 with no data following
    assert.equal(problem(parseQuery(cut)), QueryProblem.malformed);
    const bogus = concat(header({ an: 0xffff, ns: 0xffff, ar: 0xffff }), question('a.example'));
    assert.equal(problem(parseQuery(bogus)), QueryProblem.malformed);
  });

  it('reports BADVERS for version 1 but still hands back the parsed query, so the reply can echo it', () => {
    const r = parseQuery(rawQuery('a.example', { id: 77, edns: opt(1232, { version: 1, do: true }) }));
    assert.equal(problem(r), QueryProblem.badVersion);
    assert.ok(!r.ok && r.query);
    assert.equal(r.query.id, 77);
    assert.equal(r.query.edns?.version, 1);
    assert.equal(r.query.edns?.do, true);
  });
});

describe('parseQuery against dns-packet', () => {
  it('agrees with dns-packet on queries it builds', () => {
    for (const [qname, type] of [['www.example.org', 'A'], ['Example.COM', 'AAAA'], ['_sip._tcp.example', 'SRV'], ['.', 'NS']] as const) {
      const q = ok(query(qname, type, { edns: 1400, do: true, cd: true }));
      assert.equal(q.qtype, { A: 1, AAAA: 28, SRV: 33, NS: 2 }[type]);
      assert.deepEqual(q.edns, { udpSize: 1400, version: 0, do: true });
      assert.equal(q.cd, true);
    }
  });
});

describe('queryFromKey: a refresh that no client asked for', () => {
  const keyOf = (bytes: Uint8Array) => {
    const r = parseQuery(bytes);
    assert.ok(r.ok);
    return r.query.key;
  };

  for (const [label, o] of [
    ['plain', {}],
    ['DO', { do: true }],
    ['CD', { cd: true }],
    ['DO and CD', { do: true, cd: true }],
  ] as const) {
    it(`rebuilds a query with the same key and question (${label})`, () => {
      const key = keyOf(query('WWW.Example.ORG', 'AAAA', o));
      const q = queryFromKey(key);
      assert.ok(q);
      assert.equal(q.key, key);
      assert.equal(q.qtype, 28);
      assert.equal(q.rd, true);
      assert.equal(q.cd, 'cd' in o);
      assert.equal(q.edns?.do ?? false, 'do' in o);
      assert.equal(decode(q.bytes).questions[0].name, 'www.example.org');
    });
  }

  it('rebuilds the root name', () => {
    const key = keyOf(query('.', 'NS'));
    assert.equal(queryFromKey(key)?.key, key);
  });

  it('returns null for strings that are not keys', () => {
    for (const bad of ['', 'abc', '\u0100xxxxxx', '\x09www\x00\x00\x01\x00\x01\x00']) assert.equal(queryFromKey(bad), null, JSON.stringify(bad));
  });
});
