// A compact set of domain names, built once and then only read: a million names of a
// subscribed list in about 30 MiB, where a Set<string> takes three times that (docs/filtering.md
// has the figures). Every name lives in one byte buffer as a record
//   [length u8][kind u8][line u24 little-endian][name bytes, lower case, dotted]
// and an open-addressing table of 32-bit slots holds each record's offset + 1 (0: empty).
// The hash is FNV-1a over the name read from its last byte to its first, so a lookup that walks
// a query name from the root down has the hash of every suffix (ads.example.com, example.com,
// com) as it goes: one pass over the name, one probe per suffix.

/** What a record blocks, and how its line was written (so a rule can be shown as written). */
export const EntryKind = {
  /** `0.0.0.0 name` and the like: that name only, as hosts files mean it. */
  hostsZero: 0,
  hostsLoopback: 1,
  hostsV6Zero: 2,
  hostsV6Loopback: 3,
  /** A bare `name` line: the name and every name under it. */
  domain: 4,
  /** `||name^`: the name and every name under it. */
  adblock: 5,
  /** `@@||name^`: an exception. */
  exception: 6,
  /** --allow-name. */
  allowName: 7,
} as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

const HOSTS_PREFIX = ['0.0.0.0 ', '127.0.0.1 ', ':: ', '::1 '];

/** Does a record of this kind cover the names under its own? */
export function coversSubdomains(kind: number): boolean {
  return kind >= EntryKind.domain;
}

/** The rule as it would be written in a list: `||ads.example^`, `0.0.0.0 ads.example`. */
export function ruleText(kind: number, name: string): string {
  if (kind <= EntryKind.hostsV6Loopback) return HOSTS_PREFIX[kind] + name;
  if (kind === EntryKind.adblock) return `||${name}^`;
  if (kind === EntryKind.exception) return `@@||${name}^`;
  return name;
}

const HEAD_BYTES = 5;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Largest line number a record keeps; beyond it the line is shown as unknown (0). */
const MAX_LINE = 0xffffff;
/** Slots per name: a 0.6 load keeps unsuccessful probes short (about 2.5 slots on average). */
const LOAD = 0.6;

/** A query name's labels, read from its wire form once per query and shared by every set. */
export interface NameLabels {
  /** The wire bytes holding the name. */
  bytes: Uint8Array;
  /** Offsets of each label's length byte, first label first. */
  starts: Int32Array;
  count: number;
  /** hashes[i]: the hash of the name from label i to the end (the suffix starting there). */
  hashes: Uint32Array;
  /** lengths[i]: that suffix's length in dotted text form. */
  lengths: Int32Array;
}

export function createNameLabels(): NameLabels {
  return { bytes: new Uint8Array(0), starts: new Int32Array(128), count: 0, hashes: new Uint32Array(128), lengths: new Int32Array(128) };
}

const lower = (c: number) => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c);

/**
 * Reads the plain (uncompressed) wire name at `at` into `out`, with every suffix's hash. False
 * when the name is not one a list could hold (empty, or runs off the end).
 */
export function readLabels(bytes: Uint8Array, at: number, out: NameLabels): boolean {
  out.bytes = bytes;
  let n = 0;
  let p = at;
  while (p < bytes.length && bytes[p] !== 0) {
    if (n === 128 || (bytes[p] & 0xc0) !== 0) return false;
    out.starts[n++] = p;
    p += 1 + bytes[p];
  }
  if (n === 0 || p >= bytes.length) return false;
  out.count = n;
  let h = FNV_OFFSET;
  let length = -1;
  for (let i = n - 1; i >= 0; i--) {
    const s = out.starts[i];
    const len = bytes[s];
    if (i < n - 1) h = Math.imul(h ^ 0x2e, FNV_PRIME);
    for (let j = s + len; j > s; j--) h = Math.imul(h ^ lower(bytes[j]), FNV_PRIME);
    length += len + 1;
    out.hashes[i] = h >>> 0;
    out.lengths[i] = length;
  }
  return true;
}

/** The same hash over dotted text bytes [start, end), lower case already. */
function hashText(b: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let j = end - 1; j >= start; j--) h = Math.imul(h ^ b[j], FNV_PRIME);
  return h >>> 0;
}

export interface NameSet {
  readonly size: number;
  /** Bytes the set holds (buffer and table): what it costs in memory. */
  readonly bytes: number;
  /**
   * The record matching the suffix of `labels` that starts at label `i` (i = 0: the whole
   * name), or -1. A record that covers only its own name matches only at i = 0.
   */
  findSuffix(labels: NameLabels, i: number): number;
  /**
   * The most specific record covering the name, or -1. `minLabels`: suffixes shorter than this
   * are not looked up (block lists hold no single-label names, so the top-level domain is skipped).
   */
  find(labels: NameLabels, minLabels?: number): number;
  kindAt(record: number): number;
  lineAt(record: number): number;
  nameAt(record: number): string;
}

export interface NameSetBuilder {
  /**
   * Adds the name in `src[start, end)` (dotted text, lower case ASCII, already checked).
   * A name added twice keeps its first line, widened to cover subdomains if either does.
   */
  add(src: Uint8Array, start: number, end: number, kind: EntryKind, line: number): void;
  addText(name: string, kind: EntryKind, line: number): void;
  readonly size: number;
  build(): NameSet;
}

export function createNameSetBuilder(expectedBytes = 4096, expectedNames = 1024): NameSetBuilder {
  let buf = new Uint8Array(Math.max(64, expectedBytes));
  let used = 0;
  let offsets = new Uint32Array(Math.max(16, expectedNames));
  let count = 0;

  const grow = (need: number) => {
    if (used + need <= buf.length) return;
    const next = new Uint8Array(Math.max(buf.length * 2, used + need));
    next.set(buf.subarray(0, used));
    buf = next;
  };

  const builder: NameSetBuilder = {
    get size() {
      return count;
    },
    add(src, start, end, kind, line) {
      const len = end - start;
      grow(HEAD_BYTES + len);
      if (count === offsets.length) {
        const next = new Uint32Array(offsets.length * 2);
        next.set(offsets);
        offsets = next;
      }
      offsets[count++] = used;
      const l = line > MAX_LINE ? 0 : line;
      buf[used] = len;
      buf[used + 1] = kind;
      buf[used + 2] = l & 0xff;
      buf[used + 3] = (l >> 8) & 0xff;
      buf[used + 4] = (l >> 16) & 0xff;
      // A loop, not set(subarray()): a million subarrays would be a million objects to collect.
      for (let i = 0, to = used + HEAD_BYTES; i < len; i++) buf[to + i] = src[start + i];
      used += HEAD_BYTES + len;
    },
    addText(name, kind, line) {
      const b = new TextEncoder().encode(name.toLowerCase().replace(/\.$/, ''));
      builder.add(b, 0, b.length, kind, line);
    },
    build() {
      return buildSet(buf, used, offsets, count);
    },
  };
  return builder;
}

function buildSet(source: Uint8Array, used: number, offsets: Uint32Array, count: number): NameSet {
  const capacity = Math.max(8, Math.ceil(count / LOAD));
  const table = new Uint32Array(capacity);
  // The buffer is rewritten without duplicates and at its exact size: a list's spare growth
  // room would otherwise stay in memory for as long as the list is in force.
  const kept = new Uint8Array(used);
  let at = 0;
  let size = 0;
  for (let e = 0; e < count; e++) {
    const from = offsets[e];
    const len = source[from];
    const h = hashText(source, from + HEAD_BYTES, from + HEAD_BYTES + len);
    let slot = slotOf(h, capacity);
    for (;;) {
      const s = table[slot];
      if (s === 0) {
        for (let i = 0; i < HEAD_BYTES + len; i++) kept[at + i] = source[from + i];
        table[slot] = at + 1;
        at += HEAD_BYTES + len;
        size++;
        break;
      }
      const r = s - 1;
      if (kept[r] === len && equalAcross(kept, r + HEAD_BYTES, source, from + HEAD_BYTES, len)) {
        // The same name again: the wider rule wins, with its own line.
        if (coversSubdomains(source[from + 1]) && !coversSubdomains(kept[r + 1])) for (let i = 1; i < HEAD_BYTES; i++) kept[r + i] = source[from + i];
        break;
      }
      slot = slot + 1 === capacity ? 0 : slot + 1;
    }
  }
  const buf = at === used ? kept : kept.slice(0, at);
  return createNameSet(buf, table, size);
}

function equalAcross(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}

/** Lemire's multiply-shift: a slot in [0, capacity) without a modulo, for any capacity. */
function slotOf(hash: number, capacity: number): number {
  return Math.floor((hash * capacity) / 4294967296);
}

function createNameSet(buf: Uint8Array, table: Uint32Array, size: number): NameSet {
  const capacity = table.length;

  /** Does the record at `r` hold the suffix of `labels` from label `i`? */
  const matches = (r: number, labels: NameLabels, i: number): boolean => {
    const bytes = labels.bytes;
    let q = r + HEAD_BYTES;
    for (let k = i; k < labels.count; k++) {
      if (k > i) {
        if (buf[q++] !== 0x2e) return false;
      }
      const s = labels.starts[k];
      const len = bytes[s];
      for (let j = s + 1; j <= s + len; j++) if (buf[q++] !== lower(bytes[j])) return false;
    }
    return true;
  };

  const set: NameSet = {
    size,
    bytes: buf.byteLength + table.byteLength,
    findSuffix(labels, i) {
      const len = labels.lengths[i];
      if (len > 255) return -1;
      let slot = slotOf(labels.hashes[i], capacity);
      for (;;) {
        const s = table[slot];
        if (s === 0) return -1;
        const r = s - 1;
        if (buf[r] === len && matches(r, labels, i)) return i === 0 || coversSubdomains(buf[r + 1]) ? r : -1;
        slot = slot + 1 === capacity ? 0 : slot + 1;
      }
    },
    find(labels, minLabels = 1) {
      if (size === 0) return -1;
      for (let i = 0, last = labels.count - minLabels; i <= last; i++) {
        const r = set.findSuffix(labels, i);
        if (r >= 0) return r;
      }
      return -1;
    },
    kindAt: (r) => buf[r + 1],
    lineAt: (r) => buf[r + 2] | (buf[r + 3] << 8) | (buf[r + 4] << 16),
    nameAt: (r) => {
      // Names are short: a loop beats apply() over a subarray, which allocates the view.
      let name = '';
      for (let i = r + HEAD_BYTES, end = i + buf[r]; i < end; i++) name += String.fromCharCode(buf[i]);
      return name;
    },
  };
  return set;
}
