// IPv4 and IPv6 addresses and prefixes, read by hand so that checking a client's address costs
// a few dozen nanoseconds and allocates nothing: the address is parsed into a caller's scratch
// array of 32-bit words (one word for IPv4, four for IPv6).
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, RFC 4291 §2.5.5.2), which a dual-stack socket
// reports for IPv4 clients, come out as IPv4, so one IPv4 rule covers both spellings.

export type Family = 4 | 6;

/** A prefix: `words` holds the network (host bits cleared), `masks` the prefix's bits per word. */
export interface Cidr {
  readonly family: Family;
  readonly bits: number;
  readonly words: Uint32Array;
  readonly masks: Uint32Array;
  /** As written, for messages. */
  readonly text: string;
}

const DOT = 0x2e;
const COLON = 0x3a;
const ZERO = 0x30;
const NINE = 0x39;

/** The number `text[start, end)` spells as a dotted quad, or -1. Leading zeros are refused (some tools read them as octal). */
function parseV4(text: string, start: number, end: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = start; i <= end; i++) {
    const c = i < end ? text.charCodeAt(i) : DOT;
    if (c >= ZERO && c <= NINE) {
      if (digits > 0 && part === 0) return -1;
      part = part * 10 + (c - ZERO);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === DOT) {
      if (digits === 0 || ++parts > 4) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else return -1;
  }
  return parts === 4 ? value : -1;
}

function hexValue(c: number): number {
  if (c >= ZERO && c <= NINE) return c - ZERO;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

const groups = new Uint16Array(8);

/** RFC 4291 §2.2 text forms: eight groups, one "::" for a run of zeros, a dotted quad at the end. */
function parseV6(text: string, end: number, out: Uint32Array): boolean {
  let n = 0;
  let gap = -1;
  let i = 0;
  if (end === 0) return false;
  if (text.charCodeAt(0) === COLON) {
    if (end < 2 || text.charCodeAt(1) !== COLON) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    if (n === 8) return false;
    const start = i;
    let v = 0;
    for (; i < end; i++) {
      const h = hexValue(text.charCodeAt(i));
      if (h < 0) break;
      if (i - start === 4) return false;
      v = v * 16 + h;
    }
    if (i < end && text.charCodeAt(i) === DOT) {
      if (n > 6) return false;
      const v4 = parseV4(text, start, end);
      if (v4 < 0) return false;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      break;
    }
    if (i === start) return false;
    groups[n++] = v;
    if (i === end) break;
    if (text.charCodeAt(i) !== COLON) return false;
    i++;
    if (i < end && text.charCodeAt(i) === COLON) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === end) return false;
  }
  if (gap < 0) {
    if (n !== 8) return false;
  } else {
    if (n > 7) return false;
    const tail = n - gap;
    for (let k = 0; k < tail; k++) groups[7 - k] = groups[n - 1 - k];
    for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  }
  for (let w = 0; w < 4; w++) out[w] = ((groups[2 * w] << 16) | groups[2 * w + 1]) >>> 0;
  return true;
}

/**
 * Reads `text` into `out` (length 4 or more). Returns 4 (out[0] is the address), 6 (out[0..3])
 * or 0 when `text` is no address. A zone ("fe80::1%eth0") is ignored.
 */
export function parseAddress(text: string, out: Uint32Array): Family | 0 {
  if (text.indexOf(':') < 0) {
    const v4 = parseV4(text, 0, text.length);
    if (v4 < 0) return 0;
    out[0] = v4;
    return 4;
  }
  const zone = text.indexOf('%');
  if (!parseV6(text, zone < 0 ? text.length : zone, out)) return 0;
  if (out[0] === 0 && out[1] === 0 && out[2] === 0xffff) {
    out[0] = out[3];
    return 4;
  }
  return 6;
}

function maskWord(bits: number, word: number): number {
  const left = bits - 32 * word;
  if (left >= 32) return 0xffffffff;
  if (left <= 0) return 0;
  return (0xffffffff << (32 - left)) >>> 0;
}

/**
 * A prefix from "ADDR/BITS" or a bare address (a single host). Host bits are cleared, so
 * "192.168.1.10/24" means 192.168.1.0/24. Returns the problem as text when `text` is no prefix.
 */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  if (addrText.includes('%')) return 'a zone (%...) has no place in a prefix';
  const scratch = new Uint32Array(4);
  const family = parseAddress(addrText, scratch);
  if (family === 0) return `"${addrText}" is not an IPv4 or IPv6 address`;
  const written6 = addrText.includes(':');
  const maxBits = written6 ? 128 : 32;
  let bits = maxBits;
  if (slash >= 0) {
    const b = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b) || Number(b) > maxBits) return `the prefix length must be a whole number from 0 to ${maxBits} (got "${b}")`;
    bits = Number(b);
  }
  if (written6 && family === 4) {
    // ::ffff:a.b.c.d/N names IPv4 addresses; only a prefix inside ::ffff:0:0/96 can be read so.
    if (bits < 96) return 'an IPv4-mapped prefix (::ffff:...) needs a length of 96 or more';
    bits -= 96;
  }
  const n = family === 4 ? 1 : 4;
  const words = new Uint32Array(n);
  const masks = new Uint32Array(n);
  for (let w = 0; w < n; w++) {
    masks[w] = maskWord(bits, w);
    words[w] = (scratch[w] & masks[w]) >>> 0;
  }
  return { family, bits, words, masks, text };
}

/**
 * The prefix's network as text, "192.168.1.0/24" or "2001:db8:1::/64" (RFC 5952 §4: lower case,
 * no leading zeros, the longest run of two or more zero groups, the first of equals, as "::").
 */
export function formatCidr(c: Cidr): string {
  if (c.family === 4) {
    const a = c.words[0];
    return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${c.bits}`;
  }
  const g: number[] = [];
  for (let w = 0; w < 4; w++) g.push(c.words[w] >>> 16, c.words[w] & 0xffff);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(':');
  const text = bestStart < 0 ? hex(0, 8) : `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
  return `${text}/${c.bits}`;
}

/** Whether all of `inner` lies inside `outer`. */
export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  return outer.bits <= inner.bits && cidrContains(outer, inner.family, inner.words);
}

/** Whether the address in `addr` (as parseAddress left it) lies in `c`. */
export function cidrContains(c: Cidr, family: Family, addr: Uint32Array): boolean {
  if (c.family !== family) return false;
  for (let w = 0; w < c.words.length; w++) if (((addr[w] & c.masks[w]) >>> 0) !== c.words[w]) return false;
  return true;
}

/** A list of prefixes to test addresses against. */
export interface CidrSet {
  readonly cidrs: readonly Cidr[];
  contains(family: Family, addr: Uint32Array): boolean;
}

export function createCidrSet(cidrs: readonly Cidr[]): CidrSet {
  const v4 = cidrs.filter((c) => c.family === 4);
  const v6 = cidrs.filter((c) => c.family === 6);
  // Flat arrays: the IPv4 test is two integer operations per prefix.
  const nets4 = Uint32Array.from(v4.map((c) => c.words[0]));
  const masks4 = Uint32Array.from(v4.map((c) => c.masks[0]));
  return {
    cidrs,
    contains(family, addr) {
      if (family === 4) {
        const a = addr[0];
        for (let i = 0; i < nets4.length; i++) if (((a & masks4[i]) >>> 0) === nets4[i]) return true;
        return false;
      }
      for (let i = 0; i < v6.length; i++) if (cidrContains(v6[i], 6, addr)) return true;
      return false;
    },
  };
}

/**
 * Loopback, private and link-local: the clients a LAN resolver is for. 100.64.0.0/10 (RFC
 * 6598, carrier-grade NAT) is left out on purpose: it is the ISP's side of a router behind
 * CGNAT, shared with the ISP's other customers, so answering it would serve strangers.
 */
export const PRIVATE_RANGES: readonly string[] = [
  '127.0.0.0/8', //      RFC 1122 §3.2.1.3 loopback
  '10.0.0.0/8', //       RFC 1918
  '172.16.0.0/12', //    RFC 1918
  '192.168.0.0/16', //   RFC 1918
  '169.254.0.0/16', //   RFC 3927 link-local
  '::1/128', //          RFC 4291 loopback
  'fc00::/7', //         RFC 4193 unique local
  'fe80::/10', //        RFC 4291 link-local
];

export const LOOPBACK_RANGES: readonly string[] = ['127.0.0.0/8', '::1/128'];
