// Mutations of DNS messages for fuzzing: the damage real garbage does (bit flips, truncation),
// and the attacks a parser must survive (bogus counts, bad label lengths, compression pointers
// that loop or point forwards, labels over 63 bytes, names over 255).

import type { Prng } from './prng.ts';

export type Mutator = (b: Uint8Array, rnd: Prng) => Uint8Array;

function withByte(b: Uint8Array, at: number, v: number): Uint8Array {
  const out = b.slice();
  if (at < out.length) out[at] = v & 0xff;
  return out;
}

/** Offsets of the length bytes of the question name's labels (and its root byte). */
function labelOffsets(b: Uint8Array): number[] {
  const found: number[] = [];
  let p = 12;
  while (p < b.length && found.length < 130) {
    found.push(p);
    const len = b[p];
    if (len === 0 || len > 63) break;
    p += 1 + len;
  }
  return found;
}

export const MUTATORS: Readonly<Record<string, Mutator>> = {
  flipBits(b, rnd) {
    const out = b.slice();
    for (let n = rnd.range(1, 8); n > 0 && out.length > 0; n--) out[rnd.int(out.length)] ^= 1 << rnd.int(8);
    return out;
  },
  randomBytes(b, rnd) {
    const out = b.slice();
    for (let n = rnd.range(1, 4); n > 0 && out.length > 0; n--) out[rnd.int(out.length)] = rnd.int(256);
    return out;
  },
  truncate(b, rnd) {
    return b.slice(0, rnd.int(b.length + 1));
  },
  countField(b, rnd) {
    const at = rnd.pick([4, 6, 8, 10]);
    const v = rnd.pick([0, 1, 2, 0xffff, rnd.int(0x10000)]);
    return withByte(withByte(b, at, v >> 8), at + 1, v);
  },
  labelLength(b, rnd) {
    const offsets = labelOffsets(b);
    if (offsets.length === 0) return b;
    return withByte(b, rnd.pick(offsets), rnd.pick([0, 1, 62, 63, 64, 100, 127, 128, 191, 255, rnd.int(256)]));
  },
  longLabel(b, rnd) {
    // A label claiming 64..191 bytes: reserved label types, or a length past 63.
    const offsets = labelOffsets(b);
    const at = offsets.length ? rnd.pick(offsets) : 12;
    return withByte(b, at, rnd.range(64, 191));
  },
  pointer(b, rnd) {
    // A compression pointer somewhere a name may start: to itself, forwards, into the header,
    // or two pointers at each other (a loop).
    if (b.length < 14) return b;
    const offsets = labelOffsets(b);
    const at = offsets.length && rnd.chance(0.5) ? rnd.pick(offsets) : rnd.range(12, b.length - 2);
    const kind = rnd.int(4);
    const target = kind === 0 ? at : kind === 1 ? rnd.range(at + 1, Math.min(0x3fff, b.length + 10)) : kind === 2 ? rnd.int(12) : at + 2;
    let out = withByte(withByte(b, at, 0xc0 | ((target >> 8) & 0x3f)), at + 1, target);
    if (kind === 3 && at + 3 < out.length) out = withByte(withByte(out, at + 2, 0xc0 | ((at >> 8) & 0x3f)), at + 3, at);
    return out;
  },
  longName(b, rnd) {
    // Replace the question name with one of 250..300 bytes, keeping what followed it.
    const offsets = labelOffsets(b);
    const last = offsets[offsets.length - 1] ?? 12;
    const rest = b.slice(Math.min(b.length, last + 1));
    const target = rnd.range(250, 300);
    const name: number[] = [];
    while (name.length < target - 1) {
      const len = Math.min(63, target - 2 - name.length);
      if (len <= 0) break;
      name.push(len, ...new Array<number>(len).fill(0x61 + rnd.int(26)));
    }
    name.push(0);
    const out = new Uint8Array(12 + name.length + rest.length);
    out.set(b.subarray(0, 12));
    out.set(name, 12);
    out.set(rest, 12 + name.length);
    return out;
  },
  sixteenBit(b, rnd) {
    // Any 16-bit field (RDLENGTH, TYPE, a count) set to an edge value.
    if (b.length < 2) return b;
    const at = rnd.int(b.length - 1);
    const v = rnd.pick([0, 1, 4, 11, 0x29, 0xff, 0x100, 0x7fff, 0xffff]);
    return withByte(withByte(b, at, v >> 8), at + 1, v);
  },
  append(b, rnd) {
    const out = new Uint8Array(b.length + rnd.range(1, 40));
    out.set(b);
    out.set(rnd.bytes(out.length - b.length), b.length);
    return out;
  },
  insert(b, rnd) {
    const at = rnd.int(b.length + 1);
    const extra = rnd.bytes(rnd.range(1, 8));
    const out = new Uint8Array(b.length + extra.length);
    out.set(b.subarray(0, at));
    out.set(extra, at);
    out.set(b.subarray(at), at + extra.length);
    return out;
  },
  remove(b, rnd) {
    if (b.length === 0) return b;
    const at = rnd.int(b.length);
    const n = rnd.range(1, Math.min(8, b.length - at));
    const out = new Uint8Array(b.length - n);
    out.set(b.subarray(0, at));
    out.set(b.subarray(at + n), at);
    return out;
  },
  duplicate(b, rnd) {
    if (b.length < 13) return b;
    const from = rnd.range(12, b.length - 1);
    const chunk = b.slice(from, Math.min(b.length, from + rnd.range(1, 30)));
    const out = new Uint8Array(b.length + chunk.length);
    out.set(b);
    out.set(chunk, b.length);
    return out;
  },
};

const NAMES = Object.keys(MUTATORS);

/** One to three mutations; returns the result and their names, for failure reports. */
export function mutate(b: Uint8Array, rnd: Prng): { bytes: Uint8Array; applied: string[] } {
  let out = b;
  const applied: string[] = [];
  for (let n = rnd.range(1, 3); n > 0; n--) {
    const name = rnd.pick(NAMES);
    out = MUTATORS[name](out, rnd);
    applied.push(name);
  }
  return { bytes: out, applied };
}

export function hex(b: Uint8Array): string {
  return Array.from(b, (v) => v.toString(16).padStart(2, '0')).join('');
}

export function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
