// One reader for the block-list formats people subscribe to, told apart line by line, so a list
// that mixes them (many do) reads whole:
//   0.0.0.0 ads.example  127.0.0.1 ads.example  :: ads.example  ::1 ads.example   hosts: that name only
//   ads.example                                                                   the name and below
//   ||ads.example^                                                                the name and below
//   @@||ads.example^                                                              an exception
//   # comment   ! comment   [Adblock Plus 2.0]
// Rules of a kind a DNS server cannot honour (`$third-party` and other modifiers, `/regex/`,
// cosmetic `##`, URL patterns) are skipped and counted. A line that is none of these is bad:
// counted and reported with its line, never fatal. Works on bytes, not strings: a million-line
// list would otherwise make a million strings to throw away.

import { EntryKind, type NameSetBuilder } from './name-set.ts';

export interface BadLine {
  readonly line: number;
  readonly text: string;
}

export interface ParseReport {
  /** Block rules read (before duplicates are merged). */
  names: number;
  /** `@@||name^` exceptions, as names. */
  readonly exceptions: string[];
  /** Rules with features a DNS server cannot apply, skipped. */
  unsupported: number;
  /** Lines that are no rule at all. */
  badCount: number;
  /** The first few bad lines, for the log. */
  readonly bad: BadLine[];
  lines: number;
}

/** Bad lines kept for the report; the rest are only counted. */
const BAD_KEPT = 10;
const decoder = new TextDecoder();

/** Names no list means to block, found in the header of every hosts file. */
const HOSTS_HOUSEKEEPING = new Set(['localhost', 'localhost.localdomain', 'local', 'broadcasthost', '0.0.0.0', 'ip6-localhost', 'ip6-loopback']);

/** In EntryKind order: hostsZero, hostsLoopback, hostsV6Zero, hostsV6Loopback. */
const HOSTS_ADDRESSES = ['0.0.0.0', '127.0.0.1', '::', '::1'].map((a) => new TextEncoder().encode(a));

/** Is [p, q) one of the housekeeping names? Compared only when it might be: most names are not. */
function isHousekeeping(b: Uint8Array, p: number, q: number): boolean {
  if (q - p > 21 || (b[p] !== 0x6c && b[p] !== 0x4c && b[p] !== 0x30 && b[p] !== 0x69)) return false;
  return HOSTS_HOUSEKEEPING.has(textOf(b, p, q).toLowerCase());
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d;

/** The hosts addresses that mean "block" (any other address maps a name: not a block rule). */
function hostsKind(b: Uint8Array, s: number, e: number): number {
  for (let k = 0; k < HOSTS_ADDRESSES.length; k++) {
    const a = HOSTS_ADDRESSES[k];
    if (a.length !== e - s) continue;
    let i = 0;
    while (i < a.length && a[i] === b[s + i]) i++;
    if (i === a.length) return k;
  }
  return -1;
}

/** Does [s, e) look like an address (so the line is a hosts line, perhaps one we skip)? */
function looksLikeAddress(b: Uint8Array, s: number, e: number): boolean {
  let dots = 0;
  for (let i = s; i < e; i++) {
    const c = b[i];
    if (c === 0x3a) return true; // IPv6
    if (c === 0x2e) dots++;
    else if (c < 0x30 || c > 0x39) return false;
  }
  return dots === 3;
}

/**
 * Lower-cases [s, e) in place and checks it is a domain name a list can hold: letters, digits,
 * `-` and `_`, labels of 1 to 63, 253 in all, at least two labels (a lone `com` would block a
 * whole top-level domain). A trailing dot is dropped. Returns the end, or -1.
 */
function checkName(b: Uint8Array, s: number, e: number): number {
  if (e > s && b[e - 1] === 0x2e) e--;
  if (e - s < 3 || e - s > 253) return -1;
  let label = 0;
  let labels = 1;
  for (let i = s; i < e; i++) {
    let c = b[i];
    if (c >= 0x41 && c <= 0x5a) b[i] = c |= 0x20;
    if (c === 0x2e) {
      if (label === 0) return -1;
      label = 0;
      labels++;
    } else if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f) {
      if (++label > 63) return -1;
    } else return -1;
  }
  return label === 0 || labels < 2 ? -1 : e;
}

const ascii = (b: Uint8Array, s: number, e: number) => decoder.decode(b.subarray(s, Math.min(e, s + 200)));

function textOf(b: Uint8Array, s: number, e: number): string {
  return String.fromCharCode.apply(null, b.subarray(s, e) as unknown as number[]);
}

/**
 * Reads every line of `bytes` (modified: names are lower-cased in place) into `builder`.
 * Never throws for what a list holds.
 */
export function parseList(bytes: Uint8Array, builder: NameSetBuilder): ParseReport {
  const report: ParseReport = { names: 0, exceptions: [], unsupported: 0, badCount: 0, bad: [], lines: 0 };
  const bad = (line: number, s: number, e: number) => {
    report.badCount++;
    if (report.bad.length < BAD_KEPT) report.bad.push({ line, text: ascii(bytes, s, e) });
  };
  let p = 0;
  // A UTF-8 byte order mark before the first line.
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) p = 3;
  let line = 0;
  while (p < bytes.length) {
    line++;
    let end = bytes.indexOf(0x0a, p);
    if (end < 0) end = bytes.length;
    const next = end + 1;
    let s = p;
    let e = end;
    p = next;
    while (s < e && isSpace(bytes[s])) s++;
    while (e > s && isSpace(bytes[e - 1])) e--;
    if (s === e) continue;
    const first = bytes[s];
    // Comments, and the `[Adblock Plus 2.0]` header.
    if (first === 0x23 || first === 0x21 || first === 0x5b) continue;
    readRule(bytes, s, e, line, builder, report, bad);
  }
  report.lines = line;
  return report;
}

function indexOfByte(b: Uint8Array, c: number, s: number, e: number): number {
  for (let i = s; i < e; i++) if (b[i] === c) return i;
  return -1;
}

function readRule(b: Uint8Array, s: number, e: number, line: number, builder: NameSetBuilder, report: ParseReport, bad: (line: number, s: number, e: number) => void): void {
  // One pass for the characters that decide the format: most lines are plain names, and a
  // million-line list must not be read five times over.
  let hash = -1;
  let special = false;
  for (let i = s; i < e; i++) {
    const c = b[i];
    if (c === 0x23) {
      hash = i;
      break;
    }
    if (c === 0x24 || c === 0x5e || c === 0x2a || c === 0x2f || c === 0x7c || c === 0x40) special = true;
  }
  // Cosmetic rules (`##`, `#@#`, `#?#`, `#$#`) hide page elements: nothing for DNS.
  if (hash >= 0 && hash + 1 < e && (b[hash + 1] === 0x23 || b[hash + 1] === 0x40 || b[hash + 1] === 0x3f || b[hash + 1] === 0x24)) {
    report.unsupported++;
    return;
  }
  // A trailing `# comment` after a hosts or domain rule.
  if (hash > s) {
    e = hash;
    while (e > s && isSpace(b[e - 1])) e--;
  }
  if (special) readAdblock(b, s, e, line, builder, report, bad);
  else readPlain(b, s, e, line, builder, report, bad);
}

function readAdblock(b: Uint8Array, s: number, e: number, line: number, builder: NameSetBuilder, report: ParseReport, bad: (line: number, s: number, e: number) => void): void {
  // Modifiers (`$third-party`, `$important`, `$client=`) change what a rule means in ways a
  // DNS server cannot follow, or cannot see; so does a regex.
  if (b[s] === 0x2f || indexOfByte(b, 0x24, s, e) >= 0) {
    report.unsupported++;
    return;
  }
  const exception = b[s] === 0x40 && b[s + 1] === 0x40;
  const rs = exception ? s + 2 : s;
  if (b[rs] === 0x7c && b[rs + 1] === 0x7c) {
    // ||name^ with an optional | after the ^.
    let ne = e;
    if (b[ne - 1] === 0x7c) ne--;
    if (b[ne - 1] !== 0x5e) {
      report.unsupported++; // `||example.com/ads/*` and other URL patterns
      return;
    }
    ne--;
    if (indexOfByte(b, 0x2a, rs + 2, ne) >= 0 || indexOfByte(b, 0x2f, rs + 2, ne) >= 0) {
      report.unsupported++;
      return;
    }
    const end = checkName(b, rs + 2, ne);
    if (end < 0) return bad(line, s, e);
    if (exception) report.exceptions.push(textOf(b, rs + 2, end));
    else {
      builder.add(b, rs + 2, end, EntryKind.adblock, line);
      report.names++;
    }
    return;
  }
  report.unsupported++; // other adblock patterns, and wildcards
}

function readPlain(b: Uint8Array, s: number, e: number, line: number, builder: NameSetBuilder, report: ParseReport, bad: (line: number, s: number, e: number) => void): void {
  // The first word: an address (hosts) or the name itself.
  let w = s;
  while (w < e && !isSpace(b[w])) w++;
  if (w === e) {
    const end = checkName(b, s, e);
    if (end < 0) return bad(line, s, e);
    builder.add(b, s, end, EntryKind.domain, line);
    report.names++;
    return;
  }
  if (!looksLikeAddress(b, s, w)) return bad(line, s, e);
  const kind = hostsKind(b, s, w);
  // A hosts line with another address names a host rather than blocking it.
  if (kind < 0) {
    report.unsupported++;
    return;
  }
  let any = false;
  for (let p = w; p < e; ) {
    while (p < e && isSpace(b[p])) p++;
    let q = p;
    while (q < e && !isSpace(b[q])) q++;
    if (q === p) break;
    if (indexOfByte(b, 0x2e, p, q) < 0 || isHousekeeping(b, p, q)) {
      any = true;
      p = q;
      continue;
    }
    const end = checkName(b, p, q);
    if (end < 0) return bad(line, s, e);
    builder.add(b, p, end, kind as EntryKind, line);
    report.names++;
    any = true;
    p = q;
  }
  if (!any) bad(line, s, e);
}
