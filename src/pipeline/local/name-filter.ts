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

/** `names` and `zones` as name keys (names.ts: the folded wire form as a string). */
export function createNameFilter(names: Iterable<string>, zones: Iterable<string>): NameFilter {
  const exact = new Set<number>();
  const under = new Set<number>();
  for (const n of names) exact.add(suffixHash(n, 0));
  for (const z of zones) under.add(suffixHash(z, 0));
  const starts = new Int32Array(MAX_LABELS);
  return {
    mayHold(b, start, end) {
      if (exact.size === 0 && under.size === 0) return false;
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
        if (under.has(h | 0)) return true;
      }
      // The root alone has no label: its one byte.
      if (labels === 0) h = Math.imul(h ^ b[start], FNV_PRIME);
      return exact.has(h | 0) || under.has(h | 0);
    },
  };
}
