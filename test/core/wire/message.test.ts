import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { scanMessage, toStored, type ScannedMessage } from '../../../src/core/wire/message.ts';
import { u32 } from '../../../src/core/wire/header.ts';
import { decode, query, reply, soa } from '../../helpers/packets.ts';
import { concat, header, opt, question, rr, soaRdata } from '../../helpers/wire-build.ts';

const PTR = [0xc0, 12];
const A = (ttl: number) => rr(PTR, 1, ttl, [192, 0, 2, 1]);

function scanned(b: Uint8Array): ScannedMessage {
  const s = scanMessage(b);
  if (typeof s === 'string') assert.fail(`scan failed: ${s}`);
  return s;
}

/** A response header for `counts`, QR and RA set. */
const resp = (counts: { an?: number; ns?: number; ar?: number }, rcode = 0, flags3 = 0x80) =>
  header({ flags2: 0x81, flags3: flags3 | rcode, ...counts });

describe('scanMessage', () => {
  it('records the offset and value of every TTL, answer section first', () => {
    const b = concat(resp({ an: 2, ns: 1, ar: 1 }), question('a.example'), A(300), A(60), rr(PTR, 2, 900, [0]), A(5));
    const s = scanned(b);
    assert.equal(s.ttls.length, 8);
    for (let i = 0; i < s.ttls.length; i += 2) assert.equal(u32(b, s.ttls[i]), s.ttls[i + 1]);
    assert.deepEqual([s.ttls[1], s.ttls[3], s.ttls[5], s.ttls[7]], [300, 60, 900, 5]);
    assert.equal(s.answerPairs, 2);
    assert.equal(s.answerAndAuthorityPairs, 3);
    assert.equal(s.minAnswerTtl, 60);
    assert.equal(s.answerCount, 2);
    assert.equal(s.optAt, -1);
  });

  it('#15 - rejects an A or AAAA record whose data is not 4 or 16 bytes, whatever its class', () => {
    // Found by `npm run fuzz`: a mutated upstream reply with an A record of RDLENGTH 1 was
    // cached and served; dns-packet (like stub resolvers) reads A and AAAA data by type alone.
    for (const [type, size, klass] of [[1, 1, 1], [1, 5, 1], [28, 4, 1], [1, 1, 0x8f1b], [28, 0, 3]]) {
      const b = concat(resp({ an: 1 }), question('a.example'), rr(PTR, type, 60, new Array<number>(size).fill(0), klass));
      assert.equal(typeof scanMessage(b), 'string', `type ${type}, ${size} bytes, class ${klass}`);
    }
    scanned(concat(resp({ an: 2 }), question('a.example'), rr(PTR, 1, 60, [192, 0, 2, 1]), rr(PTR, 28, 60, new Array<number>(16).fill(1))));
  });

  it('#15 - rejects a TXT record whose strings do not fill its data exactly', () => {
    // Found by `npm run fuzz`: a mutated upstream TXT record whose second string's length byte
    // was lowered was cached and served; a client reads the rest as strings running past it.
    const txt = (...data: number[]) => concat(resp({ an: 1 }), question('a.example', 16), rr(PTR, 16, 60, data));
    for (const bad of [txt(), txt(3, 0x61, 0x62), txt(1, 0x61, 5, 0x61), txt(2, 0x61, 0x62, 0x63)]) assert.equal(typeof scanMessage(bad), 'string');
    scanned(txt(0));
    scanned(txt(2, 0x61, 0x62, 1, 0x63));
  });

  it('#15 - rejects DNSSEC, SRV, RP and other records whose data does not fit its fields', () => {
    // Found by `npm run fuzz`: a mutated upstream reply whose record TYPE became DS (43) over one
    // byte of data was served; a client reading a DS expects key tag, algorithm, digest type.
    const one = (type: number, data: number[]) => concat(resp({ an: 1 }), question('a.example', type), rr(PTR, type, 60, data));
    const short: Array<[number, number[]]> = [[17, [0xc0, 0]], [17, [0xc0, 12]], [43, [0]], [48, [1, 0, 3]], [59, [0, 0]], [60, []], [46, new Array<number>(17).fill(0)], [33, [0, 1, 0, 2, 0]], [44, [1]], [52, [3, 1]], [257, [0]], [257, [0, 9, 0x61]]];
    for (const [type, data] of short) assert.equal(typeof scanMessage(one(type, data)), 'string', `type ${type}, ${data.length} bytes`);
    // Whole ones pass: a DS, a DNSKEY, an SRV whose target fills its data, an RRSIG with its signer.
    scanned(one(43, [0x12, 0x34, 8, 2, 1, 2, 3]));
    scanned(one(48, [1, 1, 3, 8, 0xaa]));
    scanned(one(33, [0, 1, 0, 2, 0, 53, 0xc0, 12]));
    scanned(one(46, [0, 1, 8, 2, 0, 0, 0, 60, 0, 0, 0, 1, 0, 0, 0, 0, 0x12, 0x34, 0xc0, 12, 0xaa]));
    scanned(one(257, [0, 5, 0x69, 0x73, 0x73, 0x75, 0x65, 0x61]));
    scanned(one(17, [0xc0, 12, 0]));
  });

  it('reports -1 for the lowest answer TTL when there are no answers', () => {
    assert.equal(scanned(concat(resp({}), question('a.example'))).minAnswerTtl, -1);
  });

  it('treats a TTL with the top bit set as zero (RFC 2181 §8)', () => {
    const s = scanned(concat(resp({ an: 1 }), question('a.example'), A(0x80000001)));
    assert.equal(s.ttls[1], 0);
    assert.equal(s.minAnswerTtl, 0);
  });

  it('takes the negative TTL as min(SOA TTL, SOA MINIMUM) (RFC 2308 §5)', () => {
    const lowMin = concat(resp({ ns: 1 }, 3), question('nx.example'), rr(name('example'), 6, 3600, soaRdata(60)));
    assert.equal(scanned(lowMin).negativeTtl, 60);
    const lowTtl = concat(resp({ ns: 1 }, 3), question('nx.example'), rr(name('example'), 6, 30, soaRdata(900)));
    assert.equal(scanned(lowTtl).negativeTtl, 30);
  });

  it('reads the SOA MINIMUM from a dns-packet reply with compressed SOA names', () => {
    const b = reply(query('nope.example.org'), { rcode: 'NXDOMAIN', authorities: [soa('example.org', 7200, 120)] });
    assert.equal(scanned(b).negativeTtl, 120);
  });

  it('ignores an SOA outside the authority section for the negative TTL', () => {
    const b = concat(resp({ an: 1 }), question('example', 6), rr(PTR, 6, 3600, soaRdata(5)));
    assert.equal(scanned(b).negativeTtl, -1);
  });

  it('finds the OPT record and leaves it out of the TTLs', () => {
    const b = concat(resp({ an: 1, ar: 2 }), question('a.example'), A(300), opt(1232, { do: true }), A(7));
    const s = scanned(b);
    assert.equal(s.optAt, b.length - 11 - 16);
    assert.equal(s.ttls.length, 4, 'the answer and the record after OPT');
  });

  it('rejects OPT outside the additional section, and a second OPT', () => {
    assert.equal(typeof scanMessage(concat(resp({ an: 1 }), question('a.example'), opt())), 'string');
    assert.equal(typeof scanMessage(concat(resp({ ns: 1 }), question('a.example'), opt())), 'string');
    assert.equal(typeof scanMessage(concat(resp({ ar: 2 }), question('a.example'), opt(), opt())), 'string');
  });

  it('rejects a message whose counts claim more records than it holds', () => {
    for (const counts of [{ an: 2 }, { an: 1, ns: 1 }, { an: 1, ar: 0xffff }]) {
      const b = concat(resp(counts), question('a.example'), A(1));
      assert.equal(typeof scanMessage(b), 'string', JSON.stringify(counts));
    }
  });

  it('rejects a record whose data runs past the end', () => {
    const b = concat(resp({ an: 1 }), question('a.example'), A(300));
    assert.equal(typeof scanMessage(b.subarray(0, b.length - 1)), 'string');
  });

  it('rejects QDCOUNT other than 1, a compressed question and forward pointers in records', () => {
    assert.equal(typeof scanMessage(Uint8Array.from(resp({}).map((v, i) => (i === 5 ? 0 : v)))), 'string');
    assert.equal(typeof scanMessage(concat(resp({}), [0xc0, 12, 0, 1, 0, 1])), 'string');
    const forward = concat(resp({ an: 1 }), question('a.example'), rr([0xc0, 40], 1, 1, [1, 2, 3, 4]));
    assert.equal(typeof scanMessage(forward), 'string');
  });

  it('accepts compressed names in the data of CNAME, NS, MX and SOA records', () => {
    const b = concat(
      resp({ an: 2, ns: 2 }),
      question('www.example'),
      rr(PTR, 5, 60, [4, 0x68, 0x6f, 0x73, 0x74, 0xc0, 16]), // CNAME host.example
      rr([0xc0, 39], 1, 60, [192, 0, 2, 1]), // A for the CNAME target, owner pointing into its data
      rr([0xc0, 16], 2, 60, [3, 0x6e, 0x73, 0x31, 0xc0, 16]), // NS ns1.example
      rr([0xc0, 16], 6, 60, [0xc0, 39, 0xc0, 16, ...soaRdata(60).slice(2)]),
    );
    assert.equal(typeof scanMessage(b), 'object', String(scanMessage(b)));
    const mx = concat(resp({ an: 1 }), question('example', 15), rr(PTR, 15, 60, [0, 10, 4, 0x6d, 0x61, 0x69, 0x6c, 0xc0, 12]));
    assert.equal(typeof scanMessage(mx), 'object');
  });

  it('#2 - rejects a record whose NS name runs past its data (found by the fuzzer)', () => {
    // The NS name ends with 0x20 instead of the root byte: a client reading it runs on
    // into the next record.
    const b = concat(resp({ ns: 1, ar: 1 }), question('example'), rr(name('example'), 2, 60, [3, 0x6e, 0x73, 0x31, 0xc0, 12].slice(0, 4).concat([0x20])), A(1));
    assert.match(String(scanMessage(b)), /malformed name/);
  });

  it('#2 - rejects pointer loops, forward pointers and leftovers in record data', () => {
    const cases: Record<string, number[]> = {
      'CNAME pointing forwards': rr(PTR, 5, 60, [0xc0, 60]),
      'CNAME pointing at itself': rr(PTR, 5, 60, [0xc0, 39]),
      'CNAME with a byte after the name': rr(PTR, 5, 60, [0xc0, 12, 0]),
      'MX without a name': rr(PTR, 15, 60, [0, 10]),
      'SOA with a byte too many': rr(PTR, 6, 60, [...soaRdata(1), 0]),
      'SOA with a byte too few': rr(PTR, 6, 60, soaRdata(1).slice(1)),
      'PTR with a reserved label type': rr(PTR, 12, 60, [0x80, 0]),
    };
    for (const [what, record] of Object.entries(cases)) {
      const b = concat(resp({ an: 1 }), question('a.example'), record);
      assert.equal(typeof scanMessage(b), 'string', what);
    }
  });

  it('#2 - rejects a name read through a TTL field, which serving the reply rewrites (found by the fuzzer)', () => {
    // The first answer's TTL is 256 (00 00 01 00); its last byte reads as the root name.
    // The second answer's owner points there: once the TTL is clamped or counted down, the
    // owner name becomes garbage in what clients get.
    const first = rr(PTR, 1, 256, [192, 0, 2, 1]); // at 27: TTL at 33..36
    const b = concat(resp({ an: 2 }), question('a.example'), first, rr([0xc0, 36], 1, 60, [192, 0, 2, 2]));
    assert.equal(scanMessage(b), 'compression pointer into a field that is rewritten (a TTL)');
    const inData = concat(resp({ an: 1 }), question('a.example'), rr(PTR, 5, 256, [0xc0, 36]));
    assert.equal(typeof scanMessage(inData), 'string', 'a CNAME pointing into its own TTL');
  });

  it('accepts a name that points at record data next to a TTL', () => {
    // The A record's data at 39..42 is 0.0.0.0 ... a pointer to 42 reads the root name.
    const b = concat(resp({ an: 2 }), question('a.example'), rr(PTR, 1, 256, [1, 2, 3, 0]), rr([0xc0, 42], 1, 60, [192, 0, 2, 2]));
    assert.equal(typeof scanMessage(b), 'object', String(scanMessage(b)));
  });

  it('leaves the data of other types alone', () => {
    // A private-use type (RFC 6895 §3.1): opaque data, whatever it looks like (RFC 3597 §5).
    const b = concat(resp({ an: 1 }), question('a.example', 65280), rr(PTR, 65280, 60, [0xc0, 99, 0xff]));
    assert.equal(typeof scanMessage(b), 'object');
  });

  it('reads rcode and TC from the header', () => {
    const s = scanned(Uint8Array.from(concat(header({ flags2: 0x83, flags3: 0x85 }), question('a.example'))));
    assert.equal(s.rcode, 5);
    assert.equal(s.truncated, true);
  });
});

function name(text: string): number[] {
  return question(text).slice(0, -4);
}

describe('toStored', () => {
  it('keeps its own copy of the bytes, also of a Buffer (whose slice() is a view)', () => {
    for (const withOpt of [false, true]) {
      const bytes = concat(resp({ an: 1, ar: withOpt ? 1 : 0 }), question('a.example'), A(300), withOpt ? opt() : []);
      // As the sockets deliver it: a Buffer, here with room around it in its ArrayBuffer.
      const big = Buffer.alloc(bytes.length + 100);
      big.set(bytes, 50);
      const b = big.subarray(50, 50 + bytes.length);
      const m = toStored(b, scanned(b), 86_400);
      assert.notEqual(m.wire.buffer, b.buffer);
      assert.equal(m.wire.buffer.byteLength, m.wire.length, 'no bytes held beyond the message');
      assert.equal(Object.getPrototypeOf(m.wire), Uint8Array.prototype);
      const before = Uint8Array.from(m.wire);
      b.fill(0xee);
      assert.deepEqual(m.wire, before);
      assert.deepEqual([...m.ttls], [scanned(bytes).ttls[0], 300]);
    }
  });

  it('#11 - in place, takes bytes that are all stored form as they are, clamping their TTLs there; copies any others', () => {
    const plain = concat(resp({ an: 1 }), question('a.example'), A(999_999));
    const m = toStored(plain, scanned(plain), 3600, true);
    assert.equal(m.wire, plain, 'no copy');
    assert.equal(u32(plain, m.ttls[0]), 3600, 'clamped where it was');
    assert.deepEqual([...m.ttls].filter((_, i) => i % 2 === 1), [3600]);
    // An OPT to remove, or bytes after the records: a stored form of their own, as without inPlace.
    for (const b of [concat(resp({ an: 1, ar: 1 }), question('a.example'), A(300), opt()), concat(resp({ an: 1 }), question('a.example'), A(300), [0, 0])]) {
      const before = Uint8Array.from(b);
      const c = toStored(b, scanned(b), 60, true);
      assert.notEqual(c.wire.buffer, b.buffer);
      assert.deepEqual(b, before, 'left as it was');
      assert.deepEqual(c, toStored(b, scanned(b), 60));
    }
  });

  it('removes the OPT record and lowers ARCOUNT', () => {
    const b = concat(resp({ an: 1, ar: 1 }), question('a.example'), A(300), opt());
    const m = toStored(b, scanned(b), 86_400);
    assert.equal(m.wire.length, b.length - 11);
    assert.equal(decode(m.wire).additionals.length, 0);
    assert.equal(m.wire[11], 0);
  });

  it('drops the records after the OPT too, keeping those before it', () => {
    const b = concat(resp({ an: 1, ar: 3 }), question('a.example'), A(300), A(20), opt(), A(30));
    const m = toStored(b, scanned(b), 86_400);
    const d = decode(m.wire);
    assert.equal(d.additionals.length, 1);
    assert.equal(d.additionals[0].ttl, 20);
    assert.deepEqual([...m.ttls].filter((_, i) => i % 2 === 1), [300, 20]);
  });

  it('clamps every TTL to the maximum, in the wire and in the pairs', () => {
    const b = concat(resp({ an: 1, ns: 1 }), question('a.example'), A(999_999), rr(PTR, 2, 50, [0]));
    const m = toStored(b, scanned(b), 3600);
    assert.deepEqual(decode(m.wire).answers.map((r) => r.ttl), [3600]);
    assert.deepEqual([...m.ttls].filter((_, i) => i % 2 === 1), [3600, 50]);
    assert.equal(m.minAnswerTtl, 3600);
  });

  it('caps the authority TTLs of a negative answer at the negative TTL (RFC 2308 §3)', () => {
    const b = concat(resp({ ns: 2 }, 3), question('nx.example'), rr(name('example'), 6, 3600, soaRdata(60)), rr(name('example'), 2, 3600, [0]));
    const m = toStored(b, scanned(b), 86_400);
    assert.deepEqual(decode(m.wire).authorities.map((r) => r.ttl), [60, 60]);
    assert.equal(m.negativeTtl, 60);
  });

  it('leaves the authority TTLs of a positive answer alone', () => {
    const b = concat(resp({ an: 1, ns: 1 }), question('example', 6), rr(PTR, 6, 300, soaRdata(60)), rr(name('example'), 6, 3600, soaRdata(60)));
    const m = toStored(b, scanned(b), 86_400);
    assert.deepEqual(decode(m.wire).authorities.map((r) => r.ttl), [3600]);
  });

  it('keeps the upstream AD bit and the rcode', () => {
    const b = concat(resp({ an: 1 }, 0, 0xa0), question('a.example'), A(1));
    const m = toStored(b, scanned(b), 86_400);
    assert.equal(m.ad, true);
    assert.equal(m.rcode, 0);
    const c = concat(resp({}, 2), question('a.example'));
    assert.equal(toStored(c, scanned(c), 86_400).ad, false);
  });

  it('copies the bytes, so the caller may reuse its buffer', () => {
    const b = concat(resp({ an: 1 }), question('a.example'), A(300));
    const m = toStored(b, scanned(b), 86_400);
    b.fill(0);
    assert.equal(decode(m.wire).answers[0].ttl, 300);
  });

  it('#2 - keeps no bytes after the last record, so an OPT appended later is read as one', () => {
    const b = concat(resp({ an: 1 }), question('a.example'), A(300), [0xde, 0xad, 0xbe, 0xef]);
    const m = toStored(b, scanned(b), 86_400);
    assert.equal(m.wire.length, b.length - 4);
  });
});
