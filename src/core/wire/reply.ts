// Building what goes back to a client: a stored reply re-dressed for this query (its ID, its
// question's letter case, its flags, TTLs counted down, its own OPT), or a bare error reply.

import { Flag2, Flag3, HEADER_BYTES, RRClass, RRType, setU16, setU32 } from './header.ts';
import type { QueryHeader } from './query.ts';
import type { StoredMessage } from './message.ts';

/** Our advertised EDNS UDP size: DNS Flag Day 2020's 1232, which avoids IP fragmentation. */
export const OUR_UDP_SIZE = 1232;
export const OPT_BYTES = 11;
export const MAX_TCP_MESSAGE = 65535;
const NO_EDNS_UDP_SIZE = 512;

/**
 * The largest reply this client gets over this transport (RFC 1035 §4.2.1, RFC 6891 §6.2.5):
 * over UDP, no more than the client takes and no more than we advertise ourselves, so a
 * reply never leaves as IP fragments that a middlebox drops (DNS Flag Day 2020).
 */
export function replyLimit(query: QueryHeader, transport: 'udp' | 'tcp'): number {
  if (transport === 'tcp') return MAX_TCP_MESSAGE;
  return query.edns ? Math.min(query.edns.udpSize, OUR_UDP_SIZE) : NO_EDNS_UDP_SIZE;
}

function writeOpt(out: Uint8Array, at: number, extendedRcode: number, dnssecOk: boolean): void {
  out[at] = 0; // root owner
  setU16(out, at + 1, RRType.OPT);
  setU16(out, at + 3, OUR_UDP_SIZE);
  // TTL field: extended RCODE (upper 8 bits), version 0, DO echoed (RFC 3225 §3).
  setU32(out, at + 5, ((extendedRcode & 0xff) << 24) | (dnssecOk ? 0x8000 : 0));
  setU16(out, at + 9, 0);
}

function headerFlags(out: Uint8Array, query: QueryHeader, rcode: number, ad: boolean, tc: boolean): void {
  out[2] = Flag2.QR | (query.opcode << 3) | (tc ? Flag2.TC : 0) | (query.rd ? Flag2.RD : 0);
  // RFC 6840 §5.8: AD only to clients that asked with DO or AD.
  const passAd = ad && (query.ad || (query.edns?.do ?? false));
  out[3] = Flag3.RA | (passAd ? Flag3.AD : 0) | (query.cd ? Flag3.CD : 0) | (rcode & 0x0f);
}

/** A reply carrying only the question (and OPT when the client sent one). */
export function bareReply(query: QueryHeader, rcode: number, truncated = false): Uint8Array {
  const out = new Uint8Array(bareReplyBytes(query));
  writeBareReply(out, query, rcode, truncated);
  return out;
}

export function bareReplyBytes(query: QueryHeader): number {
  return query.questionEnd + (query.edns !== null ? OPT_BYTES : 0);
}

/** bareReply() written into `out` (zeroed or not), which must hold bareReplyBytes(query). */
export function writeBareReply(out: Uint8Array, query: QueryHeader, rcode: number, truncated = false): number {
  const withOpt = query.edns !== null;
  const qb = query.bytes;
  for (let i = 0; i < query.questionEnd; i++) out[i] = qb[i];
  headerFlags(out, query, rcode, false, truncated);
  setU16(out, 4, 1);
  setU16(out, 6, 0);
  setU16(out, 8, 0);
  setU16(out, 10, withOpt ? 1 : 0);
  if (withOpt) writeOpt(out, query.questionEnd, rcode >> 4, query.edns!.do);
  return query.questionEnd + (withOpt ? OPT_BYTES : 0);
}

/**
 * FORMERR or NOTIMP for a message we could not parse as a query: the header echoed, no
 * question (we may not be able to read it), as RFC 1035 §4.1.1 allows.
 */
export function headerOnlyReply(bytes: Uint8Array, rcode: number): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES);
  out[0] = bytes[0];
  out[1] = bytes[1];
  out[2] = Flag2.QR | (bytes[2] & 0x78) | (bytes[2] & Flag2.RD);
  out[3] = Flag3.RA | (rcode & 0x0f);
  return out;
}

/**
 * The stored reply as this client should see it, `ageSeconds` after it was stored. When it
 * would not fit `limit` bytes, the client gets TC=1 and the question only, and retries over TCP.
 */
export function renderStored(
  stored: StoredMessage,
  query: QueryHeader,
  ageSeconds: number,
  limit: number,
  ttlOverride = -1,
): Uint8Array {
  const size = stored.wire.length + (query.edns !== null ? OPT_BYTES : 0);
  if (size > limit) return bareReply(query, stored.rcode, true);
  const out = new Uint8Array(size);
  out.set(stored.wire);
  const t = stored.ttls;
  // A clock stepped backwards gives a negative age; TTLs must still never count up.
  const age = Math.max(0, ageSeconds);
  for (let i = 0; i < t.length; i += 2) {
    // A stale answer's records all carry the stale TTL (RFC 8767 §4), whatever they had.
    const ttl = ttlOverride >= 0 ? ttlOverride : Math.max(0, t[i + 1] - age);
    setU32(out, t[i], ttl);
  }
  dressStored(out, stored.wire.length, query, stored.rcode, stored.ad);
  return out;
}

/** The bytes renderStored() gives for a stored wire of `wireBytes`, unless truncated (then bareReplyBytes). */
export function storedReplyBytes(wireBytes: number, query: QueryHeader): number {
  return wireBytes + (query.edns !== null ? OPT_BYTES : 0);
}

/**
 * The rest of renderStored() for a stored wire already in out[0, wireBytes) with its TTLs
 * counted down: the client's ID and question spelling, the flags, our OPT. Returns the length.
 * Cache hits render into a reused buffer through this (#11), so both give the same bytes.
 */
export function dressStored(out: Uint8Array, wireBytes: number, query: QueryHeader, rcode: number, ad: boolean): number {
  const qb = query.bytes;
  out[0] = qb[0];
  out[1] = qb[1];
  // The stored question has the same length as the client's (names compare equal ignoring
  // case), so the client's spelling can be copied over it (RFC 1035 §7.3 echo; 0x20 clients).
  // A loop, not set(subarray): no view object per hit (#11).
  for (let i = HEADER_BYTES; i < query.nameEnd; i++) out[i] = qb[i];
  headerFlags(out, query, rcode, ad, false);
  if (query.edns === null) return wireBytes;
  writeOpt(out, wireBytes, 0, query.edns.do);
  setU16(out, 10, ((out[10] << 8) | out[11]) + 1);
  return wireBytes + OPT_BYTES;
}

/** RFC 8482 §4.2: ANY over UDP gets one synthesised HINFO record instead of everything. */
export function minimalAnyReply(query: QueryHeader): Uint8Array {
  const withOpt = query.edns !== null;
  const rdata = [7, ...'RFC8482'.split('').map((c) => c.charCodeAt(0)), 0];
  const answerBytes = 2 + 10 + rdata.length;
  const out = new Uint8Array(query.questionEnd + answerBytes + (withOpt ? OPT_BYTES : 0));
  out.set(query.bytes.subarray(0, query.questionEnd));
  headerFlags(out, query, 0, false, false);
  setU16(out, 4, 1);
  setU16(out, 6, 1);
  setU16(out, 8, 0);
  setU16(out, 10, withOpt ? 1 : 0);
  let p = query.questionEnd;
  setU16(out, p, 0xc000 | HEADER_BYTES); // pointer to the question's name
  setU16(out, p + 2, RRType.HINFO);
  setU16(out, p + 4, RRClass.IN);
  setU32(out, p + 6, 3600);
  setU16(out, p + 10, rdata.length);
  out.set(rdata, p + 12);
  p += answerBytes;
  if (withOpt) writeOpt(out, p, 0, query.edns!.do);
  return out;
}

/** The query we send upstream: a fresh ID, RD, CD and DO as the client asked, our own EDNS. */
export function upstreamQuery(query: QueryHeader, id: number): Uint8Array {
  const out = new Uint8Array(query.questionEnd + OPT_BYTES);
  // A loop, not set(subarray): a subarray of Bun's Buffer was 2% of a miss's CPU (#11).
  const qb = query.bytes;
  for (let i = 0; i < query.questionEnd; i++) out[i] = qb[i];
  setU16(out, 0, id);
  out[2] = Flag2.RD;
  // AD=1 asks a validating upstream to tell us what it validated (RFC 6840 §5.7).
  out[3] = Flag3.AD | (query.cd ? Flag3.CD : 0);
  setU16(out, 4, 1);
  setU16(out, 6, 0);
  setU16(out, 8, 0);
  setU16(out, 10, 1);
  writeOpt(out, query.questionEnd, 0, query.edns?.do ?? false);
  return out;
}
