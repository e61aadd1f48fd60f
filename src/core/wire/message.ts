// Checking an upstream's reply and turning it into the form the cache keeps: the wire message
// without its OPT record, plus where each TTL lives so a served copy can count TTLs down.

import { HEADER_BYTES, RRType, anCount, arCount, nsCount, qdCount, readRcode, setU16, setU32, u16, u32 } from './header.ts';
import { endOfName, endOfPlainName } from './names.ts';

export interface ScannedMessage {
  readonly rcode: number;
  readonly truncated: boolean;
  readonly answerCount: number;
  /** Offset just past the question's name, and past the whole question. */
  readonly nameEnd: number;
  readonly questionEnd: number;
  readonly qtype: number;
  readonly qclass: number;
  /** Pairs of [offset of a TTL field, its value], for every record but OPT. */
  readonly ttls: number[];
  /** Lowest TTL in the answer section, or -1 with no answers. */
  readonly minAnswerTtl: number;
  /** RFC 2308 §5: min(SOA TTL, SOA MINIMUM) of the authority SOA, or -1 with none. */
  readonly negativeTtl: number;
  /** Where the OPT record starts, or -1. */
  readonly optAt: number;
  /** How many `ttls` pairs belong to the answer section, and to answer plus authority. */
  readonly answerPairs: number;
  readonly answerAndAuthorityPairs: number;
  /** Offset just past the last record: anything after it is not part of the message. */
  readonly end: number;
}

type Rewritten = (from: number, to: number) => boolean;

/** True when the name at `at` is sound and ends exactly at `end`. */
function nameEndsAt(b: Uint8Array, at: number, end: number, rewritten: Rewritten): boolean {
  return endOfName(b, at, rewritten) === end;
}

/** True when [from, to) overlaps a 4-byte TTL field; `ttls` holds [offset, value] pairs in offset order. */
function overlapsTtl(ttls: readonly number[], from: number, to: number): boolean {
  let lo = 0;
  let hi = ttls.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ttls[2 * mid] + 4 <= from) lo = mid + 1;
    else hi = mid;
  }
  return lo < ttls.length / 2 && ttls[2 * lo] < to;
}

/** The types whose only checked content is names: a failure there is a malformed name. */
const NAME_TYPES: ReadonlySet<number> = new Set([RRType.NS, 3, 4, RRType.CNAME, 7, 8, 9, 12, RRType.MX, RRType.SOA, 14, 17]);

/**
 * RFC 1035 §3.3.14: TXT data is one or more <character-string>s (a length byte, then that many
 * bytes) that end exactly where the data ends; a client reads on past the record otherwise.
 */
function stringsFill(b: Uint8Array, start: number, end: number): boolean {
  if (start >= end) return false;
  let p = start;
  while (p < end) p += 1 + b[p];
  return p === end;
}

/**
 * RFC 1035 §3.3: the types whose data holds names (the only ones that may be compressed,
 * RFC 3597 §4). Those names must be sound and fill the data exactly, or a client reading the
 * record runs into the next one, or follows a pointer loop. A and AAAA data must be 4 and 16
 * bytes (RFC 1035 §3.4.1, RFC 3596 §2.2) in any class: clients read them by type alone, and
 * one of another size breaks their parser (#15, found by the fuzz campaign).
 */
function rdataFits(b: Uint8Array, type: number, start: number, end: number, rewritten: Rewritten): boolean {
  switch (type) {
    case RRType.A:
      return end - start === 4;
    case RRType.AAAA:
      return end - start === 16;
    case 16: // TXT
      return stringsFill(b, start, end);
    // Fixed fields a client reads before the rest (#15, found by the fuzz campaign): DS and CDS
    // (RFC 4034 §5.1: key tag, algorithm, digest type), DNSKEY and CDNSKEY (§2.1: flags,
    // protocol, algorithm), SSHFP (RFC 4255 §3.1), TLSA (RFC 6698 §2.1), CAA (RFC 8659 §4.1:
    // flags, tag length, then the tag).
    case 43:
    case 59:
    case 48:
    case 60:
      return end - start >= 4;
    case 44:
      return end - start >= 2;
    case 52:
      return end - start >= 3;
    case 257:
      return end - start >= 2 && start + 2 + b[start + 1] <= end;
    case 17: {
      // RP (RFC 1183 §2.2): two names, the second ending where the data ends.
      const first = endOfName(b, start, rewritten);
      return typeof first !== 'string' && first < end && nameEndsAt(b, first, end, rewritten);
    }
    case 33: // SRV (RFC 2782): priority, weight, port, then the target filling the rest
      return end - start > 6 && nameEndsAt(b, start + 6, end, rewritten);
    case 46: {
      // RRSIG (RFC 4034 §3.1): 18 bytes of fields, the signer's name, then the signature.
      if (end - start <= 18) return false;
      const signer = endOfName(b, start + 18, rewritten);
      return typeof signer !== 'string' && signer <= end;
    }
    case RRType.NS:
    case 3: // MD
    case 4: // MF
    case RRType.CNAME:
    case 7: // MB
    case 8: // MG
    case 9: // MR
    case 12: // PTR
      return nameEndsAt(b, start, end, rewritten);
    case RRType.MX:
      return end - start > 2 && nameEndsAt(b, start + 2, end, rewritten);
    case RRType.SOA:
    case 14: {
      // SOA: MNAME, RNAME, then five 32-bit fields; MINFO: RMAILBX, EMAILBX.
      const first = endOfName(b, start, rewritten);
      if (typeof first === 'string' || first >= end) return false;
      return nameEndsAt(b, first, type === RRType.SOA ? end - 20 : end, rewritten);
    }
    default:
      return true;
  }
}

/** Scans a whole message, or returns why it is unusable. Never throws. */
export function scanMessage(b: Uint8Array): ScannedMessage | string {
  if (b.length < HEADER_BYTES) return 'shorter than a header';
  if (qdCount(b) !== 1) return `QDCOUNT ${qdCount(b)}`;
  const nameEnd = endOfPlainName(b, HEADER_BYTES);
  if (typeof nameEnd === 'string') return nameEnd;
  if (nameEnd + 4 > b.length) return 'question runs past the end';
  const an = anCount(b);
  const ns = nsCount(b);
  const total = an + ns + arCount(b);
  const ttls: number[] = [];
  let minAnswerTtl = -1;
  let negativeTtl = -1;
  let optAt = -1;
  let answerPairs = 0;
  let answerAndAuthorityPairs = 0;
  // TTLs are rewritten when served (clamped, counted down): no name may be read through them.
  const rewritten: Rewritten = (from, to) => overlapsTtl(ttls, from, to);
  let p = nameEnd + 4;
  for (let i = 0; i < total; i++) {
    if (i === an) answerPairs = ttls.length / 2;
    if (i === an + ns) answerAndAuthorityPairs = ttls.length / 2;
    const end = endOfName(b, p, rewritten);
    if (typeof end === 'string') return end;
    if (end + 10 > b.length) return 'record runs past the end';
    const type = u16(b, end);
    const ttl = u32(b, end + 4);
    const rdEnd = end + 10 + u16(b, end + 8);
    if (rdEnd > b.length) return 'record data runs past the end';
    if (type === RRType.OPT) {
      if (i < an + ns || optAt !== -1) return 'misplaced or repeated OPT';
      optAt = p;
    } else {
      // RFC 2181 §8: a TTL with the top bit set is treated as zero.
      const clean = ttl > 0x7fffffff ? 0 : ttl;
      ttls.push(end + 4, clean);
      if (i < an) {
        if (minAnswerTtl < 0 || clean < minAnswerTtl) minAnswerTtl = clean;
      } else if (i < an + ns && type === RRType.SOA && rdEnd - end - 10 >= 22) {
        const soaMinimum = u32(b, rdEnd - 4);
        negativeTtl = Math.min(clean, soaMinimum > 0x7fffffff ? 0 : soaMinimum);
      }
    }
    // After this record's TTL is listed: its data may not point into it either.
    if (!rdataFits(b, type, end + 10, rdEnd, rewritten)) {
      return !NAME_TYPES.has(type) ? `type ${type} record data that does not fit its ${rdEnd - end - 10} bytes` : `malformed name in the data of a type ${type} record`;
    }
    p = rdEnd;
  }
  if (total <= an) answerPairs = ttls.length / 2;
  if (total <= an + ns) answerAndAuthorityPairs = ttls.length / 2;
  return {
    answerPairs,
    answerAndAuthorityPairs,
    end: p,
    rcode: readRcode(b),
    truncated: (b[2] & 0x02) !== 0,
    answerCount: an,
    nameEnd,
    questionEnd: nameEnd + 4,
    qtype: u16(b, nameEnd),
    qclass: u16(b, nameEnd + 2),
    ttls,
    minAnswerTtl,
    negativeTtl,
    optAt,
  };
}

/** A reply as the cache keeps it: no OPT, TTLs clamped, and where they are. */
export interface StoredMessage {
  readonly wire: Uint8Array;
  /**
   * Pairs of [TTL offset, TTL seconds when stored]. A plain array of small integers: both V8
   * and JavaScriptCore store it compactly, where a typed array would bring its own buffer.
   */
  readonly ttls: readonly number[];
  readonly rcode: number;
  /** The reply's AD bit: passed on only to clients that can use it (RFC 6840 §5.8). */
  readonly ad: boolean;
  readonly answerCount: number;
  /** From the scan, clamped like the TTLs: see ScannedMessage. */
  readonly minAnswerTtl: number;
  readonly negativeTtl: number;
}

/**
 * The first `end` bytes in a Uint8Array of their own. Not `b.slice()`: the sockets hand us
 * Buffers, whose slice() is a view that keeps the whole datagram, and on Bun a view also costs
 * an ArrayBuffer object: a plain small Uint8Array saves about 300 bytes per cached entry there
 * (build/bench/entry-bytes.mjs).
 */
function copyOf(b: Uint8Array, end: number): Uint8Array {
  const out = new Uint8Array(end);
  // A loop for the usual reply: a subarray of Bun's Buffer was 3% of a miss's CPU (#11).
  if (end <= 512) for (let i = 0; i < end; i++) out[i] = b[i];
  else out.set(b.subarray(0, end));
  return out;
}

/**
 * Copies a scanned reply into stored form. The OPT record goes (we add our own per client);
 * any records after it in the additional section go too, since removing bytes before them
 * could break their compression pointers, and additional data is optional. With `inPlace`,
 * a reply that is already all stored form (no OPT, nothing after its records) is not copied:
 * its TTLs are clamped where they are, and the message's wire is `b` itself, for a caller whose
 * `b` is its own to change and who copies the message anyway (a snapshot load into the store).
 */
export function toStored(b: Uint8Array, scan: ScannedMessage, maxTtlSeconds: number, inPlace = false): StoredMessage {
  let wire: Uint8Array;
  if (scan.optAt === -1) {
    // Trailing bytes would sit between the records and the OPT that renderStored appends.
    wire = inPlace && scan.end === b.length ? b : copyOf(b, scan.end);
  } else {
    wire = copyOf(b, scan.optAt);
    let kept = 0;
    for (let i = 0; i < scan.ttls.length; i += 2) if (scan.ttls[i] < scan.optAt) kept++;
    const droppedAdditional = scan.ttls.length / 2 - kept + 1;
    setU16(wire, 10, arCount(b) - droppedAdditional);
  }
  const pairs: number[] = [];
  // RFC 2308 §3: a negative answer's authority records live no longer than the negative TTL.
  const negative = scan.rcode === 3 || (scan.rcode === 0 && scan.answerCount === 0);
  for (let i = 0; i < scan.ttls.length; i += 2) {
    const at = scan.ttls[i];
    if (at >= wire.length) continue;
    const inAuthority = i / 2 >= scan.answerPairs && i / 2 < scan.answerAndAuthorityPairs;
    const cap = negative && inAuthority && scan.negativeTtl >= 0 ? Math.min(scan.negativeTtl, maxTtlSeconds) : maxTtlSeconds;
    const ttl = Math.min(scan.ttls[i + 1], cap);
    setU32(wire, at, ttl);
    pairs.push(at, ttl);
  }
  return {
    wire,
    // push() leaves spare room (V8 grows an empty array to 17 slots): the cache keeps this
    // array for hours, so keep it at its length. About 130 bytes an entry on Node.
    ttls: pairs.slice(),
    rcode: scan.rcode,
    ad: (b[3] & 0x20) !== 0,
    answerCount: scan.answerCount,
    minAnswerTtl: Math.min(scan.minAnswerTtl, maxTtlSeconds),
    negativeTtl: Math.min(scan.negativeTtl, maxTtlSeconds),
  };
}
