// Local answers on the wire: a stored message (core/wire/message.ts's form) built from records,
// and the records of another stage's answer copied out, their names expanded, so a CNAME made
// here can be followed by what the rest of the pipeline found for its target.

import { HEADER_BYTES, RRClass, RRType, anCount, nsCount, setU16, setU32, u16, u32 } from '../../core/wire/header.ts';
import type { StoredMessage } from '../../core/wire/message.ts';
import { parseQuery, type Query } from '../../core/wire/query.ts';
import { keyToWire } from './names.ts';

/** One record to write: owner and data as uncompressed wire bytes. */
export interface WireRecord {
  readonly owner: Uint8Array;
  readonly type: number;
  readonly ttlSeconds: number;
  readonly rdata: Uint8Array;
}

const NOBODY_INVALID = keyToWire('\x06nobody\x07invalid\0');

/**
 * RFC 6303 §3's SOA for a zone served here (MNAME the zone, RNAME nobody.invalid., serial 1),
 * but with `ttlSeconds` for its TTL and MINIMUM: RFC 2308 §5 has a client cache the negative
 * answer for the lesser of the two, and a lease or hosts line may add the name any moment.
 */
export function soaRecord(zone: Uint8Array, ttlSeconds: number): WireRecord {
  const rdata = new Uint8Array(zone.length + NOBODY_INVALID.length + 20);
  rdata.set(zone);
  rdata.set(NOBODY_INVALID, zone.length);
  const at = zone.length + NOBODY_INVALID.length;
  setU32(rdata, at, 1); // serial
  setU32(rdata, at + 4, 3600); // refresh
  setU32(rdata, at + 8, 1200); // retry
  setU32(rdata, at + 12, 604800); // expire
  setU32(rdata, at + 16, ttlSeconds); // minimum: the negative TTL
  return { owner: zone, type: RRType.SOA, ttlSeconds, rdata };
}

/** The stored form of a reply to `query` with these sections, for handle() to dress per client. */
export function buildStored(query: Query, rcode: number, answer: readonly WireRecord[], authority: readonly WireRecord[]): StoredMessage {
  const records = [...answer, ...authority];
  let size = query.questionEnd;
  for (const r of records) size += r.owner.length + 10 + r.rdata.length;
  const wire = new Uint8Array(size);
  wire.set(query.bytes.subarray(0, query.questionEnd));
  wire[2] = 0;
  wire[3] = rcode & 0x0f;
  setU16(wire, 4, 1);
  setU16(wire, 6, answer.length);
  setU16(wire, 8, authority.length);
  setU16(wire, 10, 0);
  const ttls: number[] = [];
  let p = query.questionEnd;
  let minAnswerTtl = -1;
  let negativeTtl = -1;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    wire.set(r.owner, p);
    p += r.owner.length;
    setU16(wire, p, r.type);
    setU16(wire, p + 2, RRClass.IN);
    setU32(wire, p + 4, r.ttlSeconds);
    ttls.push(p + 4, r.ttlSeconds);
    setU16(wire, p + 8, r.rdata.length);
    wire.set(r.rdata, p + 10);
    p += 10 + r.rdata.length;
    if (i < answer.length && (minAnswerTtl < 0 || r.ttlSeconds < minAnswerTtl)) minAnswerTtl = r.ttlSeconds;
    if (i >= answer.length && r.type === RRType.SOA) negativeTtl = Math.min(r.ttlSeconds, u32(r.rdata, r.rdata.length - 4));
  }
  return { wire, ttls, rcode, ad: false, answerCount: answer.length, minAnswerTtl, negativeTtl };
}

/** The name at `at` with every compression pointer followed, and where it ends in place. */
function expandName(b: Uint8Array, at: number): { name: Uint8Array; end: number } {
  const out: number[] = [];
  let p = at;
  let end = -1;
  // The message was checked when stored (scanMessage): pointers only go backwards.
  for (let hops = 0; hops < 128; hops++) {
    const len = b[p];
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = p + 2;
      p = ((len & 0x3f) << 8) | b[p + 1];
      continue;
    }
    out.push(len);
    if (len === 0) break;
    for (let i = 1; i <= len; i++) out.push(b[p + i]);
    p += 1 + len;
  }
  return { name: Uint8Array.from(out), end: end < 0 ? p + 1 : end };
}

/** RFC 3597 §4: the types whose data may hold compressed names, and where the name starts. */
function rdataWithNames(b: Uint8Array, type: number, start: number, end: number): Uint8Array {
  const names = (prefix: number, count: number, suffixBytes: number) => {
    const parts: number[] = Array.from(b.subarray(start, start + prefix));
    let p = start + prefix;
    for (let i = 0; i < count; i++) {
      const n = expandName(b, p);
      parts.push(...n.name);
      p = n.end;
    }
    parts.push(...b.subarray(p, p + suffixBytes));
    return Uint8Array.from(parts);
  };
  switch (type) {
    case RRType.NS:
    case RRType.CNAME:
    case 12: // PTR
      return names(0, 1, 0);
    case RRType.MX:
      return names(2, 1, 0);
    case RRType.SOA:
      return names(0, 2, 20);
    case 33: // SRV: RFC 2782 forbids compression, but some servers do it anyway
      return names(6, 1, 0);
    default:
      return b.slice(start, end);
  }
}

/**
 * The answer and authority records of a stored reply, as `ageSeconds` later (or all at
 * `ttlOverride`), names expanded, ready to be written after records of our own.
 */
export function recordsOf(stored: StoredMessage, ageSeconds: number, ttlOverride = -1): { answer: WireRecord[]; authority: WireRecord[] } {
  const b = stored.wire;
  const an = anCount(b);
  const ns = nsCount(b);
  const total = an + ns;
  const answer: WireRecord[] = [];
  const authority: WireRecord[] = [];
  let p = expandName(b, HEADER_BYTES).end + 4;
  for (let i = 0; i < total && p < b.length; i++) {
    const owner = expandName(b, p);
    const type = u16(b, owner.end);
    const ttl = u32(b, owner.end + 4);
    const rdStart = owner.end + 10;
    const rdEnd = rdStart + u16(b, owner.end + 8);
    const record = { owner: owner.name, type, ttlSeconds: ttlOverride >= 0 ? ttlOverride : Math.max(0, ttl - Math.max(0, ageSeconds)), rdata: rdataWithNames(b, type, rdStart, rdEnd) };
    (i < an ? answer : authority).push(record);
    p = rdEnd;
  }
  return { answer, authority };
}

/** A query for `name` (a key) and `like`'s type, class, CD and DO bits: what a CNAME's target is asked as. */
export function queryFor(name: string, like: Query): Query {
  const wireName = keyToWire(name);
  const withOpt = like.edns !== null;
  const b = new Uint8Array(HEADER_BYTES + wireName.length + 4 + (withOpt ? 11 : 0));
  b[2] = like.rd ? 0x01 : 0;
  b[3] = like.cd ? 0x10 : 0;
  setU16(b, 4, 1);
  b.set(wireName, HEADER_BYTES);
  let p = HEADER_BYTES + wireName.length;
  setU16(b, p, like.qtype);
  setU16(b, p + 2, like.qclass);
  p += 4;
  if (withOpt) {
    setU16(b, 10, 1);
    b[p] = 0;
    setU16(b, p + 1, RRType.OPT);
    setU16(b, p + 3, like.edns!.udpSize);
    setU32(b, p + 5, like.edns!.do ? 0x8000 : 0);
    setU16(b, p + 9, 0);
  }
  const parsed = parseQuery(b);
  if (!parsed.ok) throw new RangeError(`local: cannot ask for the CNAME target (${parsed.detail})`);
  return parsed.query;
}
