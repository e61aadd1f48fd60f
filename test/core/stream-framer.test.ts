import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createFrameReader, frame } from '../../src/core/stream-framer.ts';
import { concat } from '../helpers/wire-build.ts';

function collect(maxBytes = 65535) {
  const frames: number[][] = [];
  const oversize: number[] = [];
  const reader = createFrameReader(
    maxBytes,
    (m) => frames.push([...m]),
    (n) => oversize.push(n),
  );
  return { reader, frames, oversize };
}

const msg = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('frame', () => {
  it('prefixes the length in two bytes, big-endian (RFC 1035 §4.2.2)', () => {
    assert.deepEqual([...frame(Uint8Array.from([7, 8, 9]))], [0, 3, 7, 8, 9]);
    assert.deepEqual([...frame(msg(300, 1)).subarray(0, 2)], [1, 44]);
  });
});

describe('createFrameReader', () => {
  it('yields several messages joined in one chunk, in order', () => {
    const { reader, frames } = collect();
    reader.push(concat(frame(msg(3, 1)), frame(msg(5, 2)), frame(msg(1, 3))));
    assert.deepEqual(frames, [[1, 1, 1], [2, 2, 2, 2, 2], [3]]);
    assert.equal(reader.pending, 0);
  });

  it('reassembles a message split at every possible point, the length bytes included', () => {
    const whole = concat(frame(msg(20, 7)), frame(msg(4, 8)));
    for (let cut = 1; cut < whole.length; cut++) {
      const { reader, frames } = collect();
      reader.push(whole.slice(0, cut));
      reader.push(whole.slice(cut));
      assert.deepEqual(frames, [new Array(20).fill(7), new Array(4).fill(8)], `cut at ${cut}`);
    }
  });

  it('reassembles a message fed one byte at a time and reports what it holds', () => {
    const { reader, frames } = collect();
    const whole = frame(msg(10, 4));
    for (let i = 0; i < whole.length - 1; i++) {
      reader.push(whole.slice(i, i + 1));
      assert.equal(reader.pending, i + 1);
    }
    assert.equal(frames.length, 0);
    reader.push(whole.slice(-1));
    assert.equal(frames.length, 1);
    assert.equal(reader.pending, 0);
  });

  it('yields an empty message for a zero length and carries on', () => {
    const { reader, frames } = collect();
    reader.push(concat([0, 0], frame(msg(2, 9))));
    assert.deepEqual(frames, [[], [9, 9]]);
  });

  it('hands out copies that later chunks cannot change', () => {
    const frames: Uint8Array[] = [];
    const reader = createFrameReader(100, (m) => frames.push(m), () => {});
    const chunk = concat(frame(msg(3, 1)), [0]);
    reader.push(chunk);
    chunk.fill(0xee);
    reader.push(Uint8Array.from([2, 5, 5]));
    assert.deepEqual([...frames[0]], [1, 1, 1]);
    assert.deepEqual([...frames[1]], [5, 5]);
  });

  it('reports a declared length over the limit once, and then reads nothing more', () => {
    const { reader, frames, oversize } = collect(100);
    reader.push(concat(frame(msg(100, 1)), [0, 101]));
    assert.deepEqual(oversize, [101]);
    assert.equal(frames.length, 1, 'the message before it still counts');
    reader.push(frame(msg(2, 2)));
    assert.equal(frames.length, 1);
    assert.equal(oversize.length, 1);
    assert.equal(reader.pending, 0);
  });

  it('spots an oversized length as soon as its two bytes arrive, before the body', () => {
    const { reader, oversize } = collect(512);
    reader.push(Uint8Array.from([0xff]));
    assert.equal(oversize.length, 0);
    reader.push(Uint8Array.from([0xff]));
    assert.deepEqual(oversize, [0xffff]);
  });

  it('#15 - holds whole messages while the consumer takes no more, and hands them over on resume()', () => {
    const frames: number[][] = [];
    let room = 1;
    const reader = createFrameReader(
      100,
      (m) => {
        frames.push([...m]);
        room--;
      },
      () => {},
      () => room > 0,
    );
    reader.push(concat(frame(msg(1, 1)), frame(msg(1, 2)), frame(msg(1, 3)), [0]));
    assert.deepEqual(frames, [[1]]);
    assert.equal(reader.pending, 3 + 3 + 1);
    assert.equal(reader.partial, false, 'whole messages wait on the consumer, not on the peer');
    room = 5;
    reader.resume();
    assert.deepEqual(frames, [[1], [2], [3]]);
    assert.equal(reader.pending, 1);
    assert.equal(reader.partial, true, 'what is left is the start of a message');
    reader.push(Uint8Array.from([1, 4]));
    assert.deepEqual(frames, [[1], [2], [3], [4]]);
    assert.equal(reader.partial, false);
  });
});

