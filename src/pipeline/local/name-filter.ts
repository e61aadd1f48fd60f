// Whether a query's name may be one of a set of names, or under one of a set of zones, read
// from the message's bytes without making its key string: how the stages above the cache say
// they would pass a query on (PassesOn, #11). Hashes only, so it may say "maybe" for a name
// it does not hold (the query then takes the whole chain), never "no" for one it does.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** A name has at most 127 labels (255 bytes, two a label at the least). */
const MAX_LABELS = 128;

export interface NameFilter {
  /** Whether the name at bytes[start, end) (wire form, any letter case) may be held or under a zone held. */
  mayHold(bytes: Uint8Array, start: number, end: number): boolean;
}

/**
 * The hash of the key's characters from `from` to its end, taken from the last one back: so
 * one backward pass over a name gives the hash of every suffix.
 */
function suffixHash(key: string, from: number): number {
  let h = FNV_OFFSET;
  for (let i = key.length - 1; i >= from; i--) h = Math.imul(h ^ key.charCodeAt(i), FNV_PRIME);
  return h | 0;
}

/** Every suffix of `key` at a label boundary, the whole key first. */
function* suffixStarts(key: string): Generator<number> {
  for (let p = 0; p < key.length; p += key.charCodeAt(p) + 1) yield p;
}

/** `names` and `zones` as name keys (names.ts: the folded wire form as a string). */
export function createNameFilter(names: Iterable<string>, zones: Iterable<string>): NameFilter {
  const exact = new Set<number>();
  const under = new Set<number>();
  // Every suffix of every name and zone: a name none of whose suffixes is here can be none of
  // them, so most names are ruled out on their last label.
  const tails = new Set<number>();
  for (const [keys, set] of [[names, exact], [zones, under]] as const) {
    for (const k of keys) {
      set.add(suffixHash(k, 0));
      for (const p of suffixStarts(k)) tails.add(suffixHash(k, p));
    }
  }
  // A bit per hash (folded to the table's size) before the sets: a bit costs less to read than
  // a set's lookup. 32 bits per hash held.
  const bitCount = Math.max(1 << 12, 1 << Math.ceil(Math.log2(32 * tails.size + 1)));
  const bits = new Uint32Array(bitCount >>> 5);
  const mask = bitCount - 1;
  for (const h of tails) bits[(h & mask) >>> 5] |= 1 << (h & 31);
  const maybeTail = (h: number) => (bits[(h & mask) >>> 5] & (1 << (h & 31))) !== 0;
  const starts = new Int32Array(MAX_LABELS);
  return {
    mayHold(b, start, end) {
      if (tails.size === 0) return false;
      let labels = 0;
      for (let p = start; p < end - 1 && labels < MAX_LABELS; p += b[p] + 1) starts[labels++] = p;
      // Back from the root byte; each label start closes the hash of the suffix there.
      let h = FNV_OFFSET;
      let i = end - 1;
      for (let l = labels - 1; l >= 0; l--) {
        for (; i >= starts[l]; i--) {
          const c = b[i];
          h = Math.imul(h ^ (c >= 0x41 && c <= 0x5a ? c | 0x20 : c), FNV_PRIME);
        }
        h |= 0;
        if (!maybeTail(h)) return false;
        if (under.has(h)) return true;
      }
      // The root alone has no label: its one byte.
      if (labels === 0) h = Math.imul(h ^ b[start], FNV_PRIME) | 0;
      return exact.has(h) || under.has(h);
    },
  };
}
