import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scanMessage, toStored, type StoredMessage } from '../../../src/core/wire/message.ts';
import { crc32 } from '../../../src/services/snapshot/crc32.ts';
import {
  HEADER_BYTES, SNAPSHOT_VERSION, SnapshotError, SnapshotProblem, createSnapshotReader, decodeSnapshot, encodeSnapshot, inspectSnapshot, type SnapshotEntry,
} from '../../../src/services/snapshot/format.ts';
import { query, reply, soa } from '../../helpers/packets.ts';
import { createPrng } from '../../helpers/prng.ts';

function stored(name: string, nx = false): StoredMessage {
  const bytes = nx
    ? reply(query(name), { rcode: 'NXDOMAIN', authorities: [soa('example.org', 3600, 60)] })
    : reply(query(name), { answers: [{ type: 'A', name, ttl: 300, class: 'IN', data: '192.0.2.7' }] });
  const s = scanMessage(bytes);
  if (typeof s === 'string') throw new Error(s);
  return toStored(bytes, s, 86_400);
}

const ENTRIES: SnapshotEntry[] = [
  { key: 'www\u0000key-a', message: stored('www.example.org'), storedAtMs: 1_700_000_000_000, expiresAtMs: 1_700_000_300_000, popularity: 12.625, popularityAtMs: 1_700_000_000_500 },
  { key: 'nx\u0000key-b', message: stored('nx.example.org', true), storedAtMs: 1_700_000_001_000, expiresAtMs: 1_700_000_061_000, popularity: 0, popularityAtMs: 1_700_000_001_000 },
];

function problemOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof SnapshotError, `expected a SnapshotError, got ${e}`);
    return e.problem;
  }
  return 'none';
}

describe('snapshot format', () => {
  it('computes the standard CRC-32', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  });

  it('gives each entry its own bytes, not a view of the file, even when the file is a view', () => {
    const file = encodeSnapshot(ENTRIES, 1_700_000_002_000);
    // As a runtime may hand it over: a window on a larger buffer (a Node Buffer's slice() is one).
    const big = new Uint8Array(file.length + 64);
    big.set(file, 32);
    const { entries } = decodeSnapshot(big.subarray(32, 32 + file.length));
    for (const e of entries) {
      assert.notEqual(e.message.wire.buffer, big.buffer);
      assert.equal(e.message.wire.byteLength, e.message.wire.buffer.byteLength, 'the wire owns exactly its bytes');
    }
  });

  it('#11 - gives by nextRaw() the key, times and wire of each entry, the wire a view of the file', () => {
    const file = encodeSnapshot(ENTRIES, 1_700_000_002_000);
    const big = new Uint8Array(file.length + 64);
    big.set(file, 32);
    const reader = createSnapshotReader(big.subarray(32, 32 + file.length));
    while (!reader.checkBody(Infinity));
    while (!reader.checkEntries(Infinity));
    for (const want of ENTRIES) {
      const e = reader.nextRaw()!;
      const { message, ...rest } = want;
      assert.deepEqual({ ...e, wire: Array.from(e.wire) }, { ...rest, wire: Array.from(message.wire) });
      assert.equal(e.wire.buffer, big.buffer, 'no copy: the loader copies what it keeps');
    }
    assert.equal(reader.nextRaw(), null);
  });

  it('gives back every entry as it went in', () => {
    const bytes = encodeSnapshot(ENTRIES, 1_700_000_002_000);
    const { info, entries } = decodeSnapshot(bytes);
    assert.deepEqual(info, { version: SNAPSHOT_VERSION, createdAtMs: 1_700_000_002_000, entries: 2, bytes: bytes.length });
    assert.equal(entries.length, 2);
    entries.forEach((e, i) => {
      const want = ENTRIES[i];
      assert.equal(e.key, want.key);
      assert.equal(e.storedAtMs, want.storedAtMs);
      assert.equal(e.expiresAtMs, want.expiresAtMs);
      assert.equal(e.popularity, want.popularity);
      assert.equal(e.popularityAtMs, want.popularityAtMs);
      assert.deepEqual([...e.message.wire], [...want.message.wire]);
      assert.deepEqual([...e.message.ttls], [...want.message.ttls]);
      assert.deepEqual(
        { rcode: e.message.rcode, ad: e.message.ad, an: e.message.answerCount, min: e.message.minAnswerTtl, neg: e.message.negativeTtl },
        { rcode: want.message.rcode, ad: want.message.ad, an: want.message.answerCount, min: want.message.minAnswerTtl, neg: want.message.negativeTtl },
      );
    });
  });

  it('reads an empty cache back as empty', () => {
    assert.deepEqual(decodeSnapshot(encodeSnapshot([], 5)).entries, []);
  });

  it('calls a file cut short at any length truncated, never half-loads it', () => {
    const bytes = encodeSnapshot(ENTRIES, 1);
    for (let len = 0; len < bytes.length; len++) {
      assert.equal(problemOf(() => decodeSnapshot(bytes.subarray(0, len))), SnapshotProblem.truncated, `at ${len} bytes`);
    }
  });

  it('notices any single flipped byte', () => {
    const bytes = encodeSnapshot(ENTRIES, 1);
    for (let i = 0; i < bytes.length; i++) {
      const bad = bytes.slice();
      bad[i] ^= 0x01;
      const problem = problemOf(() => decodeSnapshot(bad));
      assert.notEqual(problem, 'none', `flip at byte ${i} went unnoticed`);
    }
  });

  it('names a wrong version (a version 1 file, before popularity) and a file that is not a snapshot', () => {
    assert.equal(SNAPSHOT_VERSION, 2);
    const bytes = encodeSnapshot(ENTRIES, 1);
    for (const version of [1, 3]) {
      const other = bytes.slice();
      new DataView(other.buffer).setUint16(6, version);
      new DataView(other.buffer).setUint32(28, crc32(other, 0, 28));
      assert.equal(problemOf(() => inspectSnapshot(other)), SnapshotProblem.wrongVersion, `version ${version}`);
      assert.equal(problemOf(() => decodeSnapshot(other)), SnapshotProblem.wrongVersion, `version ${version}`);
    }
    assert.equal(problemOf(() => inspectSnapshot(new TextEncoder().encode('nameserver 192.0.2.1\n'.repeat(3)))), SnapshotProblem.badMagic);
  });

  it('calls a non-finite popularity malformed', () => {
    const bytes = encodeSnapshot([{ ...ENTRIES[0], popularity: Number.NaN }], 1);
    assert.equal(problemOf(() => decodeSnapshot(bytes)), SnapshotProblem.malformed);
  });

  it('throws only SnapshotError on random bytes behind a valid-looking header', () => {
    const rnd = createPrng(0x5a5a);
    for (let n = 0; n < 2000; n++) {
      const body = Uint8Array.from({ length: rnd.range(0, 200) }, () => rnd.range(0, 255));
      const bytes = new Uint8Array(HEADER_BYTES + body.length);
      bytes.set(body, HEADER_BYTES);
      bytes.set([0x48, 0x46, 0x53, 0x4e, 0x41, 0x50], 0);
      const view = new DataView(bytes.buffer);
      view.setUint16(6, SNAPSHOT_VERSION);
      view.setUint32(16, rnd.range(0, 50));
      view.setUint32(20, body.length);
      view.setUint32(24, crc32(bytes, HEADER_BYTES, bytes.length));
      view.setUint32(28, crc32(bytes, 0, 28));
      try {
        decodeSnapshot(bytes);
      } catch (e) {
        assert.ok(e instanceof SnapshotError, `case ${n}: ${e}`);
      }
    }
  });
});
