// The snapshot's CRC-32 against a bit-at-a-time reference: every length, start and split, so
// the eight-byte steps and the tail agree with the definition wherever a slice begins or ends.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, crc32Update } from '../../../src/services/snapshot/crc32.ts';
import { createPrng } from '../../helpers/prng.ts';

/** CRC-32 as defined: reflected, polynomial 0xEDB88320, one bit at a time. */
function reference(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) {
    c ^= bytes[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('crc32', () => {
  const bytes = createPrng(11).bytes(200);

  it('matches the reference for every start and length up to 40 bytes past it', () => {
    for (let start = 0; start < 24; start++) {
      for (let end = start; end <= start + 40; end++) assert.equal(crc32(bytes, start, end), reference(bytes, start, end), `[${start}, ${end})`);
    }
  });

  it('gives the same CRC when the bytes come in two parts split anywhere', () => {
    for (let split = 0; split <= bytes.length; split++) {
      assert.equal(crc32Update(crc32(bytes, 0, split), bytes, split), reference(bytes, 0, bytes.length), `split at ${split}`);
    }
  });

  it('gives the check value of the CRC catalogue and of all-ones bytes', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
    const ones = new Uint8Array(64).fill(0xff);
    assert.equal(crc32(ones), reference(ones, 0, 64));
  });
});
