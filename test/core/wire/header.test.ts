import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  anCount, arCount, isResponse, isTruncated, nsCount, qdCount, readId, readOpcode, readRcode, setU16, setU32, u16, u32,
} from '../../../src/core/wire/header.ts';
import { header } from '../../helpers/wire-build.ts';

describe('header fields', () => {
  it('reads every field of the 12-byte header (RFC 1035 §4.1.1)', () => {
    const b = Uint8Array.from(header({ id: 0xbeef, flags2: 0x80 | (2 << 3) | 0x02, flags3: 0x83, qd: 1, an: 2, ns: 3, ar: 0xffff }));
    assert.equal(readId(b), 0xbeef);
    assert.equal(isResponse(b), true);
    assert.equal(readOpcode(b), 2);
    assert.equal(isTruncated(b), true);
    assert.equal(readRcode(b), 3);
    assert.deepEqual([qdCount(b), anCount(b), nsCount(b), arCount(b)], [1, 2, 3, 0xffff]);
  });

  it('reads a 32-bit value with the top bit set as a positive number', () => {
    const b = new Uint8Array(4);
    setU32(b, 0, 0xfffffffe);
    assert.equal(u32(b, 0), 0xfffffffe);
    setU32(b, 0, 0x80000000);
    assert.equal(u32(b, 0), 0x80000000);
  });

  it('writes 16-bit values big-endian and keeps only the low 16 bits', () => {
    const b = new Uint8Array(2);
    setU16(b, 0, 0x1ff01);
    assert.deepEqual([...b], [0xff, 0x01]);
    assert.equal(u16(b, 0), 0xff01);
  });
});
