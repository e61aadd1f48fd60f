// The on-disk form of the cache, so a reboot does not empty it. A file is a fixed header and
// a body of entries; both carry a CRC-32, so a file cut short by a power failure or damaged on
// flash is recognised and set aside rather than half-loaded.
//
//   header (32 bytes, big-endian):
//     0  magic "HFSNAP"        6  format version u16    8  created at (ms) f64
//     16 entry count u32       20 body length u32       24 body CRC-32 u32   28 header CRC-32 u32
//   entry:
//     key length u16, key (one byte per char), stored at f64, expires at f64,
//     popularity f64, popularity as of f64, wire length u16, wire, TTL count u16, then per TTL: offset u16, seconds u32,
//     rcode u8, AD u8, answer count u16, min answer TTL i32, negative TTL i32
//
// Times are absolute (ms since the epoch, as the clock read them), not ages: re-ageing at load
// needs to know whether the clock can be trusted, and that is the loader's decision.
// Version 2 added the popularity fields; an older file is "wrong format version".

import type { StoredMessage } from '../../core/wire/message.ts';
import { crc32 } from './crc32.ts';

export const SNAPSHOT_VERSION = 2;
const MAGIC = [0x48, 0x46, 0x53, 0x4e, 0x41, 0x50]; // "HFSNAP"
export const HEADER_BYTES = 32;

export interface SnapshotEntry {
  readonly key: string;
  readonly message: StoredMessage;
  readonly storedAtMs: number;
  readonly expiresAtMs: number;
  /** The entry's decayed hit score, as of popularityAtMs (see CacheEntry). */
  readonly popularity: number;
  readonly popularityAtMs: number;
}

export interface SnapshotInfo {
  readonly version: number;
  readonly createdAtMs: number;
  readonly entries: number;
  readonly bytes: number;
}

export const SnapshotProblem = {
  truncated: 'truncated',
  badMagic: 'not a Holdfast snapshot',
  wrongVersion: 'wrong format version',
  checksum: 'checksum mismatch',
  malformed: 'malformed entry',
} as const;
export type SnapshotProblem = (typeof SnapshotProblem)[keyof typeof SnapshotProblem];

export class SnapshotError extends Error {
  readonly problem: SnapshotProblem;
  constructor(problem: SnapshotProblem, detail: string) {
    super(`snapshot: ${problem} (${detail})`);
    this.name = 'SnapshotError';
    this.problem = problem;
  }
}

function entryBytes(e: SnapshotEntry): number {
  return 2 + e.key.length + 8 + 8 + 8 + 8 + 2 + e.message.wire.length + 2 + (e.message.ttls.length / 2) * 6 + 1 + 1 + 2 + 4 + 4;
}

export function encodeSnapshot(entries: Iterable<SnapshotEntry>, createdAtMs: number): Uint8Array {
  const list = [...entries].filter((e) => e.key.length <= 0xffff && e.message.wire.length <= 0xffff);
  const total = HEADER_BYTES + list.reduce((n, e) => n + entryBytes(e), 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let p = HEADER_BYTES;
  for (const e of list) {
    view.setUint16(p, e.key.length);
    p += 2;
    for (let i = 0; i < e.key.length; i++) out[p++] = e.key.charCodeAt(i) & 0xff;
    view.setFloat64(p, e.storedAtMs);
    view.setFloat64(p + 8, e.expiresAtMs);
    view.setFloat64(p + 16, e.popularity);
    view.setFloat64(p + 24, e.popularityAtMs);
    p += 32;
    const m = e.message;
    view.setUint16(p, m.wire.length);
    out.set(m.wire, p + 2);
    p += 2 + m.wire.length;
    view.setUint16(p, m.ttls.length / 2);
    p += 2;
    for (let i = 0; i < m.ttls.length; i += 2) {
      view.setUint16(p, m.ttls[i]);
      view.setUint32(p + 2, m.ttls[i + 1]);
      p += 6;
    }
    out[p] = m.rcode;
    out[p + 1] = m.ad ? 1 : 0;
    view.setUint16(p + 2, m.answerCount);
    view.setInt32(p + 4, m.minAnswerTtl);
    view.setInt32(p + 8, m.negativeTtl);
    p += 12;
  }
  out.set(MAGIC, 0);
  view.setUint16(6, SNAPSHOT_VERSION);
  view.setFloat64(8, createdAtMs);
  view.setUint32(16, list.length);
  view.setUint32(20, total - HEADER_BYTES);
  view.setUint32(24, crc32(out, HEADER_BYTES, total));
  view.setUint32(28, crc32(out, 0, 28));
  return out;
}

/** Reads and checks the header only: what `holdfast snapshot inspect` shows. */
export function inspectSnapshot(bytes: Uint8Array): SnapshotInfo {
  if (bytes.length < HEADER_BYTES) throw new SnapshotError(SnapshotProblem.truncated, `${bytes.length} bytes, less than a header`);
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) throw new SnapshotError(SnapshotProblem.badMagic, 'first bytes');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(28) !== crc32(bytes, 0, 28)) throw new SnapshotError(SnapshotProblem.checksum, 'header');
  const version = view.getUint16(6);
  if (version !== SNAPSHOT_VERSION) throw new SnapshotError(SnapshotProblem.wrongVersion, `version ${version}, expected ${SNAPSHOT_VERSION}`);
  const body = view.getUint32(20);
  if (HEADER_BYTES + body !== bytes.length) throw new SnapshotError(SnapshotProblem.truncated, `${bytes.length} bytes, header says ${HEADER_BYTES + body}`);
  return { version, createdAtMs: view.getFloat64(8), entries: view.getUint32(16), bytes: bytes.length };
}

/** Every entry of a whole, undamaged snapshot; throws a SnapshotError naming the problem otherwise. */
export function decodeSnapshot(bytes: Uint8Array): { info: SnapshotInfo; entries: SnapshotEntry[] } {
  const info = inspectSnapshot(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(24) !== crc32(bytes, HEADER_BYTES, bytes.length)) throw new SnapshotError(SnapshotProblem.checksum, 'body');
  const entries: SnapshotEntry[] = [];
  let p = HEADER_BYTES;
  const need = (n: number) => {
    if (p + n > bytes.length) throw new SnapshotError(SnapshotProblem.malformed, `entry ${entries.length} runs past the end`);
  };
  for (let n = 0; n < info.entries; n++) {
    need(2);
    const keyLen = view.getUint16(p);
    p += 2;
    need(keyLen + 34);
    const key = String.fromCharCode.apply(null, bytes.subarray(p, p + keyLen) as unknown as number[]);
    p += keyLen;
    const storedAtMs = view.getFloat64(p);
    const expiresAtMs = view.getFloat64(p + 8);
    const popularity = view.getFloat64(p + 16);
    const popularityAtMs = view.getFloat64(p + 24);
    const wireLen = view.getUint16(p + 32);
    p += 34;
    need(wireLen + 2);
    // A copy, never a view: a Buffer's slice() is one, and would keep the whole file alive.
    const wire = new Uint8Array(bytes.subarray(p, p + wireLen));
    p += wireLen;
    const ttlCount = view.getUint16(p);
    p += 2;
    need(ttlCount * 6 + 12);
    const ttls: number[] = [];
    for (let i = 0; i < ttlCount; i++) {
      const at = view.getUint16(p);
      if (at + 4 > wireLen) throw new SnapshotError(SnapshotProblem.malformed, `entry ${n}: TTL offset outside its message`);
      ttls.push(at, view.getUint32(p + 2));
      p += 6;
    }
    const message: StoredMessage = {
      wire,
      ttls,
      rcode: bytes[p],
      ad: bytes[p + 1] === 1,
      answerCount: view.getUint16(p + 2),
      minAnswerTtl: view.getInt32(p + 4),
      negativeTtl: view.getInt32(p + 8),
    };
    p += 12;
    if (![storedAtMs, expiresAtMs, popularity, popularityAtMs].every(Number.isFinite)) throw new SnapshotError(SnapshotProblem.malformed, `entry ${n}: bad times or popularity`);
    entries.push({ key, message, storedAtMs, expiresAtMs, popularity, popularityAtMs });
  }
  if (p !== bytes.length) throw new SnapshotError(SnapshotProblem.malformed, `${bytes.length - p} bytes after the last entry`);
  return { info, entries };
}
