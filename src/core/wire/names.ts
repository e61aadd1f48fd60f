// Domain names on the wire (RFC 1035 §3.1, §4.1.4). A query's question cannot hold a valid
// compression pointer (it would have to point into the header). Other names are checked the
// way careful clients (BIND, dns-packet) read them, so we never pass on a name they reject;
// every pointer must point before the one that led to it, so a loop can never make us spin.

export const MAX_LABEL_BYTES = 63;
export const MAX_NAME_BYTES = 255;

export const NameError = {
  truncated: 'name runs past the end of the message',
  labelTooLong: 'label longer than 63 bytes',
  nameTooLong: 'name longer than 255 bytes',
  badLabelType: 'reserved label type',
  pointer: 'compression pointer where none is allowed',
  badPointer: 'compression pointer that does not point backwards into the message',
  pointerIntoRewritten: 'compression pointer into a field that is rewritten (a TTL)',
} as const;
export type NameError = (typeof NameError)[keyof typeof NameError];

/**
 * Offset just past an uncompressed name starting at `at`, or a NameError. Used for questions,
 * where RFC 1035 leaves no room for a pointer.
 */
export function endOfPlainName(b: Uint8Array, at: number): number | NameError {
  let p = at;
  for (;;) {
    if (p >= b.length) return NameError.truncated;
    const len = b[p];
    if (len === 0) {
      p += 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) return NameError.pointer;
    if (len & 0xc0) return NameError.badLabelType;
    p += 1 + len;
    if (p - at > MAX_NAME_BYTES - 1) return NameError.nameTooLong;
  }
  // The root byte counts towards the 255-byte limit.
  if (p - at > MAX_NAME_BYTES) return NameError.nameTooLong;
  return p;
}

/**
 * Offset just past a possibly compressed name starting at `at`, or a NameError. Pointers are
 * followed to check the whole name. RFC 1035 §4.1.4 has a pointer refer to "a prior
 * occurrence" of a name, so the part it reaches must start before the part holding the
 * pointer and end before the pointer itself (not in the header): a chain always ends, and
 * cannot read through the records after it. The labels must be valid, the whole name must fit
 * in 255 bytes, and a part reached through a pointer must not overlap bytes that
 * `rewritten(from, to)` says we change when serving the message (TTLs), or serving it would
 * change the name.
 */
export function endOfName(b: Uint8Array, at: number, rewritten?: (from: number, to: number) => boolean): number | NameError {
  let p = at;
  let end = -1; // just past the first pointer: where the name ends in place
  let part = at; // start of the part being read; a pointer in it must point before it
  let via = b.length; // the pointer that led to this part, which must end before it
  let total = 1; // the root byte
  for (;;) {
    if (p >= via) return p >= b.length ? NameError.truncated : NameError.badPointer;
    const len = b[p];
    if (len === 0) {
      if (part !== at && rewritten?.(part, p + 1)) return NameError.pointerIntoRewritten;
      return end === -1 ? p + 1 : end;
    }
    if ((len & 0xc0) === 0xc0) {
      if (p + 1 >= via) return p + 1 >= b.length ? NameError.truncated : NameError.badPointer;
      if (part !== at && rewritten?.(part, p + 2)) return NameError.pointerIntoRewritten;
      const target = ((len & 0x3f) << 8) | b[p + 1];
      if (target < 12 || target >= part) return NameError.badPointer;
      if (end === -1) end = p + 2;
      via = p;
      p = part = target;
      continue;
    }
    if (len & 0xc0) return NameError.badLabelType;
    total += 1 + len;
    if (total > MAX_NAME_BYTES) return NameError.nameTooLong;
    p += 1 + len;
  }
}

// Room for the longest name and the few bytes a caller appends after it.
const scratch = new Uint8Array(MAX_NAME_BYTES + 8);
// One view of `scratch` per length, made once: a subarray per call would be an object per query
// on the hit path (#11).
const scratchViews: Uint8Array[] = [];
const scratchView = (n: number): Uint8Array => (scratchViews[n] ??= scratch.subarray(0, n));

/**
 * The case-folded wire bytes of a plain name, then `suffix` bytes, as one string. Built in a
 * single call so the string is flat: appending a character at a time would leave a rope of
 * fragments that costs memory in every cache key and a flattening on every lookup.
 */
export function nameKey(b: Uint8Array, start: number, end: number, suffix: readonly number[] = []): string {
  const len = end - start;
  for (let i = 0; i < len; i++) {
    const c = b[start + i];
    scratch[i] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
  }
  for (let i = 0; i < suffix.length; i++) scratch[len + i] = suffix[i];
  return String.fromCharCode.apply(null, scratchView(len + suffix.length) as unknown as number[]);
}

/** True when two plain names are equal ignoring ASCII case (RFC 4343). */
export function sameName(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, len: number): boolean {
  for (let i = 0; i < len; i++) {
    let x = a[aStart + i];
    let y = b[bStart + i];
    if (x === y) continue;
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

/** Presentation form ("www.example.org.") of a plain name, for logs and the CLI. */
export function nameToText(b: Uint8Array, at: number): string {
  const labels: string[] = [];
  let p = at;
  while (p < b.length && b[p] !== 0 && labels.length < 128) {
    const len = b[p] & 0x3f;
    let label = '';
    for (let i = p + 1; i <= p + len && i < b.length; i++) {
      const c = b[i];
      if (c === 0x2e || c === 0x5c) label += '\\' + String.fromCharCode(c);
      else if (c <= 0x20 || c >= 0x7f) label += '\\' + String(c).padStart(3, '0');
      else label += String.fromCharCode(c);
    }
    labels.push(label);
    p += 1 + len;
  }
  return labels.length === 0 ? '.' : labels.join('.') + '.';
}

/** Wire form of a presentation name; throws on a label or name that cannot be encoded. */
export function textToName(text: string): Uint8Array {
  const trimmed = text.endsWith('.') ? text.slice(0, -1) : text;
  const out: number[] = [];
  if (trimmed.length > 0) {
    for (const label of trimmed.split('.')) {
      const bytes = new TextEncoder().encode(label);
      if (bytes.length === 0) throw new RangeError(`empty label in "${text}"`);
      if (bytes.length > MAX_LABEL_BYTES) throw new RangeError(`label longer than 63 bytes in "${text}"`);
      out.push(bytes.length, ...bytes);
    }
  }
  out.push(0);
  if (out.length > MAX_NAME_BYTES) throw new RangeError(`name longer than 255 bytes: "${text}"`);
  return Uint8Array.from(out);
}
