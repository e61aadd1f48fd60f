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
import { crc32, crc32Update } from './crc32.ts';

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

/** Body bytes are gathered in chunks of this size: growing one buffer would copy it again and again. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Builds a snapshot an entry at a time, so a caller can spread the work over several turns of
 * the event loop: the body's CRC is kept up to date as entries come, and finish() only copies
 * the chunks into one buffer and writes the header.
 */
export interface SnapshotWriter {
  add(e: SnapshotEntry): void;
  readonly entries: number;
  /**
   * Copies up to `maxBytes` more of the body into the file's buffer; the whole file once done,
   * else null (call again). In steps because a large file costs page faults as well as copying.
   */
  finishStep(maxBytes: number): Uint8Array | null;
  finish(): Uint8Array;
}

export function createSnapshotWriter(createdAtMs: number): SnapshotWriter {
  const chunks: Uint8Array[] = [];
  let chunk = new Uint8Array(CHUNK_BYTES);
  let view = new DataView(chunk.buffer);
  let p = 0;
  let body = 0;
  let count = 0;
  let crc = 0;
  // finishStep's progress: the file's buffer, the next chunk to copy and where it goes.
  let out: Uint8Array | null = null;
  let next = 0;
  let at = HEADER_BYTES;
  return {
    add(e) {
      if (e.key.length > 0xffff || e.message.wire.length > 0xffff) return;
      const size = entryBytes(e);
      if (p + size > chunk.length) {
        chunks.push(chunk.subarray(0, p));
        chunk = new Uint8Array(Math.max(CHUNK_BYTES, size));
        view = new DataView(chunk.buffer);
        p = 0;
      }
      const start = p;
      view.setUint16(p, e.key.length);
      p += 2;
      for (let i = 0; i < e.key.length; i++) chunk[p++] = e.key.charCodeAt(i) & 0xff;
      view.setFloat64(p, e.storedAtMs);
      view.setFloat64(p + 8, e.expiresAtMs);
      view.setFloat64(p + 16, e.popularity);
      view.setFloat64(p + 24, e.popularityAtMs);
      p += 32;
      const m = e.message;
      view.setUint16(p, m.wire.length);
      chunk.set(m.wire, p + 2);
      p += 2 + m.wire.length;
      view.setUint16(p, m.ttls.length / 2);
      p += 2;
      for (let i = 0; i < m.ttls.length; i += 2) {
        view.setUint16(p, m.ttls[i]);
        view.setUint32(p + 2, m.ttls[i + 1]);
        p += 6;
      }
      chunk[p] = m.rcode;
      chunk[p + 1] = m.ad ? 1 : 0;
      view.setUint16(p + 2, m.answerCount);
      view.setInt32(p + 4, m.minAnswerTtl);
      view.setInt32(p + 8, m.negativeTtl);
      p += 12;
      crc = crc32Update(crc, chunk, start, p);
      body += size;
      count++;
    },
    get entries() {
      return count;
    },
    finishStep(maxBytes) {
      if (out === null) {
        chunks.push(chunk.subarray(0, p));
        out = new Uint8Array(HEADER_BYTES + body);
      }
      let copied = 0;
      while (next < chunks.length && copied < maxBytes) {
        const c = chunks[next++];
        out.set(c, at);
        at += c.length;
        copied += c.length;
      }
      if (next < chunks.length) return null;
      const header = new DataView(out.buffer);
      out.set(MAGIC, 0);
      header.setUint16(6, SNAPSHOT_VERSION);
      header.setFloat64(8, createdAtMs);
      header.setUint32(16, count);
      header.setUint32(20, body);
      header.setUint32(24, crc);
      header.setUint32(28, crc32(out, 0, 28));
      return out;
    },
    finish() {
      let done = this.finishStep(Infinity);
      while (done === null) done = this.finishStep(Infinity);
      return done;
    },
  };
}

export function encodeSnapshot(entries: Iterable<SnapshotEntry>, createdAtMs: number): Uint8Array {
  const writer = createSnapshotWriter(createdAtMs);
  for (const e of entries) writer.add(e);
  return writer.finish();
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
  const reader = createSnapshotReader(bytes);
  while (!reader.checkBody(Infinity));
  while (!reader.checkEntries(Infinity));
  const entries: SnapshotEntry[] = [];
  for (let e = reader.next(); e !== null; e = reader.next()) entries.push(e);
  return { info: reader.info, entries };
}

/**
 * Reads a snapshot in steps a caller can spread over the event loop: checkBody() checksums the
 * body a slice at a time (true once all of it matched; throws on a mismatch), checkEntries()
 * walks the entries' structure without decoding them (true once every one is sound; throws a
 * SnapshotError otherwise), then next() gives one entry at a time, null after the last. Nothing
 * is given before the whole file checked out, so a bad file is set aside without having put
 * anything into the cache, as when it was decoded at once.
 */
export interface SnapshotReader {
  readonly info: SnapshotInfo;
  checkBody(maxBytes: number): boolean;
  checkEntries(maxEntries: number): boolean;
  next(): SnapshotEntry | null;
  /**
   * next() without the message's stored form (TTL offsets, rcode, counts): the key, the times
   * and the wire alone, for a loader that makes the stored form afresh from the wire anyway
   * (#15) and has no use for the file's. The wire is a view of the file, not a copy: whoever
   * keeps it must copy it (toStored does), or it keeps the whole file alive. A copy here would
   * be copied again, and on Bun a view of a fresh copy costs more than the copy (#11).
   */
  nextRaw(): RawSnapshotEntry | null;
}

/** An entry as nextRaw() gives it: SnapshotEntry with only the message's wire. */
export interface RawSnapshotEntry {
  readonly key: string;
  readonly wire: Uint8Array;
  readonly storedAtMs: number;
  readonly expiresAtMs: number;
  readonly popularity: number;
  readonly popularityAtMs: number;
}

/** Room for the longest key (a u16 length): keys are read through it, see keyText. */
const keyScratch = new Uint8Array(0x10000);
/** One view of keyScratch per length, made once: a view per entry costs more than the copy. */
const keyViews: Uint8Array[] = [];

/** bytes[at, at + length) as a string of one char per byte, made flat in one call. */
function keyText(bytes: Uint8Array, at: number, length: number): string {
  for (let i = 0; i < length; i++) keyScratch[i] = bytes[at + i];
  const view = (keyViews[length] ??= keyScratch.subarray(0, length));
  return String.fromCharCode.apply(null, view as unknown as number[]);
}

/**
 * `nativeCrc32` is the runtime's CRC-32 (FileSystem.crc32), used for the body when given: the
 * same sums, ~10 times faster than crc32Update.
 */
export function createSnapshotReader(file: Uint8Array, nativeCrc32?: (bytes: Uint8Array, crc: number) => number): SnapshotReader {
  // A plain Uint8Array over the same memory, whatever `file` is: its slice() copies, where a
  // Node Buffer's would be a view keeping the whole file alive.
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  const info = inspectSnapshot(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let checked = HEADER_BYTES;
  let crc = 0;
  let p = HEADER_BYTES;
  let n = 0;
  const need = (k: number) => {
    if (p + k > bytes.length) throw new SnapshotError(SnapshotProblem.malformed, `entry ${n} runs past the end`);
  };
  // The structural walk's own position, ahead of next()'s.
  let walked = HEADER_BYTES;
  let walkedEntries = 0;
  const walkNeed = (at: number, k: number) => {
    if (at + k > bytes.length) throw new SnapshotError(SnapshotProblem.malformed, `entry ${walkedEntries} runs past the end`);
  };
  return {
    info,
    checkBody(maxBytes) {
      const end = Math.min(bytes.length, checked + maxBytes);
      crc = nativeCrc32 ? nativeCrc32(bytes.subarray(checked, end), crc) : crc32Update(crc, bytes, checked, end);
      checked = end;
      if (checked < bytes.length) return false;
      if (view.getUint32(24) !== crc) throw new SnapshotError(SnapshotProblem.checksum, 'body');
      return true;
    },
    checkEntries(maxEntries) {
      if (checked < bytes.length) throw new Error('snapshot: checkEntries() before checkBody() finished');
      let q = walked;
      const end = Math.min(info.entries, walkedEntries + maxEntries);
      for (; walkedEntries < end; walkedEntries++) {
        walkNeed(q, 2);
        const keyLen = view.getUint16(q);
        q += 2;
        walkNeed(q, keyLen + 34);
        q += keyLen;
        for (let i = 0; i < 32; i += 8) if (!Number.isFinite(view.getFloat64(q + i))) throw new SnapshotError(SnapshotProblem.malformed, `entry ${walkedEntries}: bad times or popularity`);
        const wireLen = view.getUint16(q + 32);
        q += 34;
        walkNeed(q, wireLen + 2);
        q += wireLen;
        const ttlCount = view.getUint16(q);
        q += 2;
        walkNeed(q, ttlCount * 6 + 12);
        for (let i = 0; i < ttlCount; i++, q += 6) {
          if (view.getUint16(q) + 4 > wireLen) throw new SnapshotError(SnapshotProblem.malformed, `entry ${walkedEntries}: TTL offset outside its message`);
        }
        q += 12;
      }
      walked = q;
      if (walkedEntries < info.entries) return false;
      if (walked !== bytes.length) throw new SnapshotError(SnapshotProblem.malformed, `${bytes.length - walked} bytes after the last entry`);
      return true;
    },
    nextRaw() {
      if (walkedEntries < info.entries || walked !== bytes.length) throw new Error('snapshot: next() before checkEntries() finished');
      if (n === info.entries) {
        if (p !== bytes.length) throw new SnapshotError(SnapshotProblem.malformed, `${bytes.length - p} bytes after the last entry`);
        return null;
      }
      // checkEntries() walked every length, so nothing here runs past the end.
      const keyLen = (bytes[p] << 8) | bytes[p + 1];
      const key = keyText(bytes, p + 2, keyLen);
      p += 2 + keyLen;
      const storedAtMs = view.getFloat64(p);
      const expiresAtMs = view.getFloat64(p + 8);
      const popularity = view.getFloat64(p + 16);
      const popularityAtMs = view.getFloat64(p + 24);
      const wireLen = (bytes[p + 32] << 8) | bytes[p + 33];
      p += 34;
      const wire = bytes.subarray(p, p + wireLen);
      p += wireLen;
      p += 2 + ((bytes[p] << 8) | bytes[p + 1]) * 6 + 12;
      n++;
      return { key, wire, storedAtMs, expiresAtMs, popularity, popularityAtMs };
    },
    next() {
      if (walkedEntries < info.entries || walked !== bytes.length) throw new Error('snapshot: next() before checkEntries() finished');
      if (n === info.entries) {
        if (p !== bytes.length) throw new SnapshotError(SnapshotProblem.malformed, `${bytes.length - p} bytes after the last entry`);
        return null;
      }
      need(2);
      const keyLen = view.getUint16(p);
      p += 2;
      need(keyLen + 34);
      const key = keyText(bytes, p, keyLen);
      p += keyLen;
      const storedAtMs = view.getFloat64(p);
      const expiresAtMs = view.getFloat64(p + 8);
      const popularity = view.getFloat64(p + 16);
      const popularityAtMs = view.getFloat64(p + 24);
      const wireLen = view.getUint16(p + 32);
      p += 34;
      need(wireLen + 2);
      const wire = bytes.slice(p, p + wireLen);
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
      n++;
      return { key, message, storedAtMs, expiresAtMs, popularity, popularityAtMs };
    },
  };
}
