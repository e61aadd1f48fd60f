// Parsing a client's query: just enough to answer it (header, the one question, EDNS), with
// every check RFC 1035 and RFC 6891 ask of a server. Nothing here allocates beyond the result.

import {
  Flag2, Flag3, HEADER_BYTES, Opcode, RRType, anCount, arCount, isResponse, nsCount, qdCount, readId,
  readOpcode, u16, u32,
} from './header.ts';
import { endOfName, endOfPlainName, nameKey } from './names.ts';

export interface Edns {
  /** The client's advertised UDP payload size, raised to 512 (RFC 6891 §6.2.3, §6.2.5). */
  readonly udpSize: number;
  readonly version: number;
  /** DNSSEC OK (RFC 3225). */
  readonly do: boolean;
}

/**
 * What answering a query reads of it: the header bits, the question and EDNS, without the
 * keys. A Query is one; so is a ScannedQuery, which a cache hit fills in place (#11).
 */
export interface QueryHeader {
  readonly bytes: Uint8Array;
  readonly opcode: number;
  readonly rd: boolean;
  readonly cd: boolean;
  readonly ad: boolean;
  /** The question name is bytes[12, nameEnd), exactly as the client wrote it. */
  readonly nameEnd: number;
  readonly qtype: number;
  readonly qclass: number;
  readonly questionEnd: number;
  readonly edns: Edns | null;
}

export interface Query extends QueryHeader {
  readonly id: number;
  /** Case-folded name, type, class and the DO/CD bits: answers differ along each. */
  readonly key: string;
  /** The case-folded name alone (its wire form as a string): what local data and zones are keyed by. */
  readonly nameKey: string;
}

export const QueryProblem = {
  /** Too short to carry an ID: nothing to answer. */
  short: 'short',
  /** QR=1: a response sent to us, never answered (it could be a reflection). */
  response: 'response',
  opcode: 'opcode',
  qdcount: 'qdcount',
  malformed: 'malformed',
  badVersion: 'badversion',
} as const;
export type QueryProblem = (typeof QueryProblem)[keyof typeof QueryProblem];

export type ParseResult =
  | { readonly ok: true; readonly query: Query }
  | { readonly ok: false; readonly problem: QueryProblem; readonly detail: string; readonly query?: Query };

const MIN_UDP_SIZE = 512;

// The key's bytes after the name, refilled by each parse: a new array per query would be
// garbage on the hit path (#11). nameKey() copies them out before returning.
const keySuffix = [0, 0, 0, 0, 0];

function fail(problem: QueryProblem, detail: string, query?: Query): ParseResult {
  return { ok: false, problem, detail, query };
}

// A client sends the same EDNS fields with every query, so their Edns objects are shared rather
// than made per query (#11); frozen, as everything that reads them may keep them.
const ednsSeen = new Map<number, Edns>();
const EDNS_SEEN_MAX = 256;

// The last one made or found: a client asks with the same EDNS fields every time, and one
// comparison is cheaper than the map's lookup.
let ednsLastKey = -1;
let ednsLast: Edns | null = null;

function ednsOf(udpSize: number, version: number, dnssecOk: boolean): Edns {
  const k = (udpSize * 256 + version) * 2 + (dnssecOk ? 1 : 0);
  if (k === ednsLastKey) return ednsLast!;
  let e = ednsSeen.get(k);
  if (e === undefined) {
    e = Object.freeze({ udpSize, version, do: dnssecOk });
    if (ednsSeen.size >= EDNS_SEEN_MAX) ednsSeen.clear();
    ednsSeen.set(k, e);
  }
  ednsLastKey = k;
  ednsLast = e;
  return e;
}

function keySuffixFor(qtype: number, qclass: number, dnssecOk: boolean, cd: boolean): number[] {
  keySuffix[0] = qtype >> 8;
  keySuffix[1] = qtype & 0xff;
  keySuffix[2] = qclass >> 8;
  keySuffix[3] = qclass & 0xff;
  keySuffix[4] = (dnssecOk ? 2 : 0) | (cd ? 1 : 0);
  return keySuffix;
}

/**
 * A query read in place: scanQuery() fills one per message, so a cache hit allocates nothing to
 * read its query (#11). Valid until the next scan into it; parseQuery() copies it into a Query.
 */
export interface ScannedQuery extends QueryHeader {
  bytes: Uint8Array;
  opcode: number;
  rd: boolean;
  cd: boolean;
  ad: boolean;
  nameEnd: number;
  qtype: number;
  qclass: number;
  questionEnd: number;
  edns: Edns | null;
  /** The OPT record's version (0 without one): above 0 the problem is badVersion. */
  ednsVersion: number;
  /** Why the message cannot be answered as it is, or null. */
  problem: QueryProblem | null;
  detail: string;
}

export function createScannedQuery(): ScannedQuery {
  return {
    bytes: new Uint8Array(0),
    opcode: 0,
    rd: false,
    cd: false,
    ad: false,
    nameEnd: 0,
    qtype: 0,
    qclass: 0,
    questionEnd: 0,
    edns: null,
    ednsVersion: 0,
    problem: null,
    detail: '',
  };
}

function problem(s: ScannedQuery, p: QueryProblem, detail: string): boolean {
  s.problem = p;
  s.detail = detail;
  return false;
}

/**
 * Reads `b` into `s`: true when it is a query to answer; false with `s.problem` set otherwise
 * (with badVersion every field is read, so the reply can echo the question).
 */
export function scanQuery(b: Uint8Array, s: ScannedQuery): boolean {
  s.bytes = b;
  s.edns = null;
  s.ednsVersion = 0;
  s.problem = null;
  if (b.length < HEADER_BYTES) return problem(s, QueryProblem.short, `${b.length} bytes`);
  if (isResponse(b)) return problem(s, QueryProblem.response, 'QR=1');
  const opcode = readOpcode(b);
  if (opcode !== Opcode.QUERY) return problem(s, QueryProblem.opcode, `opcode ${opcode}`);
  const qd = qdCount(b);
  if (qd !== 1) return problem(s, QueryProblem.qdcount, `QDCOUNT ${qd}`);

  const nameEnd = endOfPlainName(b, HEADER_BYTES);
  if (typeof nameEnd === 'string') return problem(s, QueryProblem.malformed, nameEnd);
  if (nameEnd + 4 > b.length) return problem(s, QueryProblem.malformed, 'question runs past the end');
  const questionEnd = nameEnd + 4;

  // Walk any records the client sent, looking for the one OPT (RFC 6891 §6.1.1).
  let p = questionEnd;
  let edns: Edns | null = null;
  let optVersion = 0;
  const an = anCount(b);
  const ns = nsCount(b);
  const total = an + ns + arCount(b);
  for (let i = 0; i < total; i++) {
    const end = endOfName(b, p);
    if (typeof end === 'string') return problem(s, QueryProblem.malformed, end);
    if (end + 10 > b.length) return problem(s, QueryProblem.malformed, 'record runs past the end');
    const type = u16(b, end);
    const rdEnd = end + 10 + u16(b, end + 8);
    if (rdEnd > b.length) return problem(s, QueryProblem.malformed, 'record data runs past the end');
    if (type === RRType.OPT) {
      if (i < an + ns) return problem(s, QueryProblem.malformed, 'OPT outside the additional section');
      if (edns !== null) return problem(s, QueryProblem.malformed, 'more than one OPT record');
      if (end !== p + 1) return problem(s, QueryProblem.malformed, 'OPT owner is not the root');
      const ttl = u32(b, end + 4);
      optVersion = (ttl >>> 16) & 0xff;
      edns = ednsOf(Math.max(MIN_UDP_SIZE, u16(b, end + 2)), optVersion, (ttl & 0x8000) !== 0);
    }
    p = rdEnd;
  }

  s.opcode = opcode;
  s.rd = (b[2] & Flag2.RD) !== 0;
  s.cd = (b[3] & Flag3.CD) !== 0;
  s.ad = (b[3] & Flag3.AD) !== 0;
  s.nameEnd = nameEnd;
  s.qtype = u16(b, nameEnd);
  s.qclass = u16(b, nameEnd + 2);
  s.questionEnd = questionEnd;
  s.edns = edns;
  s.ednsVersion = optVersion;
  // RFC 6891 §6.1.3: we speak version 0 only.
  if (optVersion > 0) return problem(s, QueryProblem.badVersion, `EDNS version ${optVersion}`);
  return true;
}

/** The DO/CD byte that ends a cache key (and the key's field that says which answer this is). */
export function keyFlags(q: QueryHeader): number {
  return ((q.edns?.do ?? false) ? 2 : 0) | (q.cd ? 1 : 0);
}

// parseQuery's scratch: a Query is built from it, so it is free again once parseQuery returns.
const scanned = createScannedQuery();

export function parseQuery(b: Uint8Array): ParseResult {
  const ok = scanQuery(b, scanned);
  const s = scanned;
  if (!ok && s.problem !== QueryProblem.badVersion) return fail(s.problem!, s.detail);
  const { nameEnd, qtype, qclass, edns, cd } = s;
  const query: Query = {
    bytes: b,
    id: readId(b),
    opcode: s.opcode,
    rd: s.rd,
    cd,
    ad: s.ad,
    nameEnd,
    qtype,
    qclass,
    questionEnd: s.questionEnd,
    edns,
    // The name's wire form ends in its root byte, so what follows cannot be confused with it.
    key: nameKey(b, HEADER_BYTES, nameEnd, keySuffixFor(qtype, qclass, edns?.do ?? false, cd)),
    nameKey: nameKey(b, HEADER_BYTES, nameEnd),
  };
  if (!ok) return fail(s.problem!, s.detail, query);
  return { ok: true, query };
}

/**
 * The query a cache key stands for, for refreshes that no client is waiting on (prefetch): the
 * key holds the folded name's wire form, then type, class and the DO/CD bits, which is all a
 * question needs. Returns null if `key` is not one that parseQuery made.
 */
export function queryFromKey(key: string): Query | null {
  const nameLength = key.length - 5;
  if (nameLength < 1) return null;
  const flags = key.charCodeAt(key.length - 1);
  const dnssecOk = (flags & 2) !== 0;
  const optBytes = dnssecOk ? 11 : 0;
  const b = new Uint8Array(HEADER_BYTES + nameLength + 4 + optBytes);
  b[2] = Flag2.RD;
  if (flags & 1) b[3] = Flag3.CD;
  b[5] = 1; // QDCOUNT
  let p = HEADER_BYTES;
  for (let i = 0; i < nameLength + 4; i++) {
    const c = key.charCodeAt(i);
    if (c > 0xff) return null;
    b[p++] = c;
  }
  if (dnssecOk) {
    b[11] = 1; // ARCOUNT: an OPT carrying DO, so the refresh asks what the client asked
    // owner root (0), TYPE OPT (41), CLASS 1232, TTL with DO set, RDLENGTH 0
    b.set([0, 0, 41, 1232 >> 8, 1232 & 0xff, 0, 0, 0x80, 0, 0, 0], p);
  }
  const parsed = parseQuery(b);
  return parsed.ok && parsed.query.key === key ? parsed.query : null;
}
