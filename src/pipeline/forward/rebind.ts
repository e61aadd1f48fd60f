// DNS rebinding protection (--rebind-protection, on by default as in OpenWrt's dnsmasq): a
// public name whose upstream answer points into the LAN lets a web page's script talk to the
// router or a printer as if it were its own site. Such addresses are taken out of the answer
// before it is cached; what is left is passed on, and NOERROR with no data when nothing is
// (as dnsmasq and unbound do: SERVFAIL would only send the client to retry elsewhere).

import { HEADER_BYTES, RRType, anCount, u16 } from '../../core/wire/header.ts';
import { endOfName } from '../../core/wire/names.ts';
import type { StoredMessage } from '../../core/wire/message.ts';
import type { Query } from '../../core/wire/query.ts';
import { isAtOrUnder, nameKeyOf } from '../local/names.ts';
import { buildStored, recordsOf } from '../local/wire.ts';

/** True for the IPv4 addresses a public name must not resolve to. */
function privateV4(b: Uint8Array, at: number): boolean {
  const a = b[at];
  const x = b[at + 1];
  return (
    a === 0 || //                          0.0.0.0/8: "this network", unspecified
    a === 10 || //                         RFC 1918
    a === 127 || //                        loopback
    (a === 172 && (x & 0xf0) === 16) || // RFC 1918 172.16.0.0/12
    (a === 192 && x === 168) || //         RFC 1918
    (a === 169 && x === 254) //            RFC 3927 link-local
  );
}

/** True for the IPv6 addresses a public name must not resolve to, IPv4-mapped ones by their IPv4 part. */
function privateV6(b: Uint8Array, at: number): boolean {
  let zeros = 0;
  while (zeros < 16 && b[at + zeros] === 0) zeros++;
  if (zeros === 16) return true; //                                 :: unspecified
  if (zeros === 15 && b[at + 15] === 1) return true; //             ::1 loopback
  if (zeros === 10 && b[at + 10] === 0xff && b[at + 11] === 0xff) return privateV4(b, at + 12); // ::ffff:a.b.c.d
  if ((b[at] & 0xfe) === 0xfc) return true; //                      fc00::/7 unique local (RFC 4193)
  return b[at] === 0xfe && (b[at + 1] & 0xc0) === 0x80; //          fe80::/10 link-local
}

/** True when A or AAAA data is an address a public name must not have. */
export function isRebindAddress(type: number, rdata: Uint8Array): boolean {
  if (type === RRType.A) return rdata.length === 4 && privateV4(rdata, 0);
  if (type === RRType.AAAA) return rdata.length === 16 && privateV6(rdata, 0);
  return false;
}

export interface RebindOptions {
  /** --rebind-protection on. */
  readonly enabled: boolean;
  /** --rebind-allow: these domains, and every name under them, may have such addresses. */
  readonly allow: readonly string[];
}

export interface RebindFilter {
  readonly enabled: boolean;
  /** The --rebind-allow domain `key` is at or under, or null. */
  allowedBy(key: string): string | null;
  /**
   * `message` without its LAN addresses, with how many were removed; the same message and 0
   * when it has none (the common case costs one pass over the answer's records).
   */
  filter(query: Query, message: StoredMessage): { readonly message: StoredMessage; readonly removed: number };
}

/** True when the stored reply's answer section holds an A or AAAA record with a LAN address. */
function hasRebindAddress(message: StoredMessage): boolean {
  if (message.answerCount === 0) return false;
  // Read in place: every miss passes here, and expanding each record's names (recordsOf) cost
  // a miss several arrays (#11). The message was checked when it was scanned, so the names end.
  const b = message.wire;
  const question = endOfName(b, HEADER_BYTES);
  if (typeof question === 'string') return false;
  let p = question + 4;
  const count = anCount(b);
  for (let i = 0; i < count; i++) {
    const end = endOfName(b, p);
    if (typeof end === 'string' || end + 10 > b.length) return false;
    const type = u16(b, end);
    const length = u16(b, end + 8);
    const at = end + 10;
    if (type === RRType.A && length === 4 && privateV4(b, at)) return true;
    if (type === RRType.AAAA && length === 16 && privateV6(b, at)) return true;
    p = at + length;
  }
  return false;
}

/**
 * How long our cache keeps an answer left with nothing once its LAN addresses are gone, when
 * the upstream sent no SOA to say (RFC 2308 §5: without one a NODATA is not cached, so every
 * repeat would go upstream again, and rebinding answers come with TTLs of 0 or 1 on purpose).
 * The clients get no SOA and so keep nothing; they ask again and are answered from the cache.
 * A minute: the name stays unanswered no longer than a local name's TTL would keep it.
 */
export const REBIND_NODATA_TTL_SECONDS = 60;

/**
 * `rebuilt` (what is left of `original`) as the cache should keep it: a NODATA for the SOA's
 * negative TTL or else REBIND_NODATA_TTL_SECONDS; a partial answer no longer than the original
 * (its remaining records, a CNAME say, may carry longer TTLs than the addresses taken out).
 */
function cacheable(rebuilt: StoredMessage, original: StoredMessage): StoredMessage {
  if (rebuilt.answerCount === 0) return rebuilt.negativeTtl >= 0 ? rebuilt : { ...rebuilt, negativeTtl: REBIND_NODATA_TTL_SECONDS };
  if (original.minAnswerTtl >= 0 && rebuilt.minAnswerTtl > original.minAnswerTtl) return { ...rebuilt, minAnswerTtl: original.minAnswerTtl };
  return rebuilt;
}

export function createRebindFilter(options: RebindOptions): RebindFilter {
  const allow = options.allow.map((d) => ({ text: d, key: nameKeyOf(d) })).filter((a): a is { text: string; key: string } => a.key !== null);
  return {
    enabled: options.enabled,
    allowedBy(key) {
      for (const a of allow) if (isAtOrUnder(key, a.key)) return a.text;
      return null;
    },
    filter(query, message) {
      if (!options.enabled || !hasRebindAddress(message)) return { message, removed: 0 };
      const { answer, authority } = recordsOf(message, 0);
      const kept = answer.filter((r) => !isRebindAddress(r.type, r.rdata));
      const removed = answer.length - kept.length;
      // Only the SOA of the authority section: it lets the client cache the absence (RFC 2308 §5).
      const rebuilt = buildStored(query, message.rcode, kept, kept.some((r) => r.type === RRType.A || r.type === RRType.AAAA) ? [] : authority.filter((r) => r.type === RRType.SOA));
      return { message: cacheable(rebuilt, message), removed };
    },
  };
}
