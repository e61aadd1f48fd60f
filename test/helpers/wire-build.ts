// Raw DNS messages byte by byte, for the cases dns-packet will not build: misplaced OPT records,
// bogus counts, compression pointers that loop, over-long labels.

import { textToName } from '../../src/core/wire/names.ts';

export function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function u16be(v: number): number[] {
  return [(v >>> 8) & 0xff, v & 0xff];
}

export function u32be(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

export interface HeaderFields {
  id?: number;
  /** Byte 2: QR, opcode, AA, TC, RD. Default RD only. */
  flags2?: number;
  /** Byte 3: RA, Z, AD, CD, rcode. */
  flags3?: number;
  qd?: number;
  an?: number;
  ns?: number;
  ar?: number;
}

export function header(h: HeaderFields = {}): number[] {
  return [...u16be(h.id ?? 0x1234), h.flags2 ?? 0x01, h.flags3 ?? 0, ...u16be(h.qd ?? 1), ...u16be(h.an ?? 0), ...u16be(h.ns ?? 0), ...u16be(h.ar ?? 0)];
}

export function name(text: string): number[] {
  return [...textToName(text)];
}

export function question(text: string, qtype = 1, qclass = 1): number[] {
  return [...name(text), ...u16be(qtype), ...u16be(qclass)];
}

/** A resource record; `owner` is already in wire form (a name, or a pointer such as [0xc0, 12]). */
export function rr(owner: number[], type: number, ttl: number, rdata: number[], klass = 1): number[] {
  return [...owner, ...u16be(type), ...u16be(klass), ...u32be(ttl), ...u16be(rdata.length), ...rdata];
}

/** An OPT pseudo-record (RFC 6891 §6.1.2). */
export function opt(udpSize = 1232, o: { version?: number; do?: boolean; extendedRcode?: number; owner?: number[] } = {}): number[] {
  const ttl = ((o.extendedRcode ?? 0) << 24) | ((o.version ?? 0) << 16) | (o.do ? 0x8000 : 0);
  return [...(o.owner ?? [0]), ...u16be(41), ...u16be(udpSize), ...u32be(ttl >>> 0), 0, 0];
}

/** SOA RDATA with root names for MNAME and RNAME: 22 bytes, MINIMUM last. */
export function soaRdata(minimum: number): number[] {
  return [0, 0, ...u32be(1), ...u32be(3600), ...u32be(600), ...u32be(86400), ...u32be(minimum)];
}

/** A query: header, one question, and optionally an OPT record. */
export function rawQuery(qname: string, o: HeaderFields & { qtype?: number; edns?: number[] | null } = {}): Uint8Array {
  const edns = o.edns === undefined ? opt() : o.edns;
  return concat(header({ ...o, ar: o.ar ?? (edns ? 1 : 0) }), question(qname, o.qtype ?? 1), edns ?? []);
}
