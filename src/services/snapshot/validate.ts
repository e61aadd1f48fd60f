// Whether an entry read from a snapshot is one an upstream could have given for its key (#15).
// A checksum says the file is as written, not that what was written is sound: a crafted file
// (or a bug) could hold a message for another name under a key, or one too short to serve. So
// each entry goes through what an upstream reply goes through before the cache takes it.

import { Flag2, HEADER_BYTES, qdCount } from '../../core/wire/header.ts';
import { scanMessage, toStored, type StoredMessage } from '../../core/wire/message.ts';
import { MAX_NAME_BYTES } from '../../core/wire/names.ts';

/** A key's bytes after its name: type, class and the DO/CD byte (see parseQuery). */
const KEY_SUFFIX = 5;
const NOT_A_QUESTION = 'key is not a question';
const NOT_ITS_ANSWER = 'message does not answer its key';

/**
 * Why `wire` is not a reply to the question `key` stands for, or null when it is. The key must
 * be one parseQuery makes (a plain name of labels up to 63 bytes ending at its root, ASCII
 * lowercased, 255 bytes at most; then type, class, and a flags byte of DO and CD alone), and
 * the reply must answer it as RFC 5452 §9.1 asks of an upstream's (replyMatches): QR set, one
 * question, the same name ignoring case, the same type and class. The same verdicts as building
 * the key's query (queryFromKey) and matching the reply against it, walked once over both
 * without building anything: a 100,000-name load spent ~0.1 s on those (#11).
 */
export function keyMismatch(key: string, wire: Uint8Array): string | null {
  const nameLength = key.length - KEY_SUFFIX;
  if (nameLength < 1 || nameLength > MAX_NAME_BYTES || key.charCodeAt(key.length - 1) > 3) return NOT_A_QUESTION;
  if (wire.length < HEADER_BYTES + nameLength + 4 || (wire[2] & Flag2.QR) === 0 || qdCount(wire) !== 1) return NOT_ITS_ANSWER;
  // Label by label: a length byte (at most 63, so never a letter) must be the same in both.
  let p = 0;
  for (;;) {
    const length = key.charCodeAt(p);
    if (length > 63) return NOT_A_QUESTION;
    if (wire[HEADER_BYTES + p] !== length) return NOT_ITS_ANSWER;
    if (length === 0) break;
    const end = p + 1 + length;
    if (end >= nameLength) return NOT_A_QUESTION;
    for (let i = p + 1; i < end; i++) {
      const k = key.charCodeAt(i);
      // A key holds the name folded (RFC 4343): an upper-case letter means it was not made so.
      if (k > 0xff || (k >= 0x41 && k <= 0x5a)) return NOT_A_QUESTION;
      const w = wire[HEADER_BYTES + i];
      if ((w >= 0x41 && w <= 0x5a ? w | 0x20 : w) !== k) return NOT_ITS_ANSWER;
    }
    p = end;
  }
  // The root byte must be the name's last, or the key's type would be read from the name.
  if (p !== nameLength - 1) return NOT_A_QUESTION;
  for (let i = nameLength; i < nameLength + 4; i++) {
    const k = key.charCodeAt(i);
    if (k > 0xff) return NOT_A_QUESTION;
    if (wire[HEADER_BYTES + i] !== k) return NOT_ITS_ANSWER;
  }
  return null;
}

/**
 * The message as the cache would have stored it had an upstream just sent `wire` for `key`,
 * or why not: it must answer the key's question (keyMismatch), scan whole and untruncated
 * (scanMessage), and its stored form (TTLs clamped to maxTtlSeconds, rcode, counts) is made
 * afresh from the bytes (toStored), never read from the file. In a copy of its own, unless
 * `inPlace` (see toStored): then the wire may be `wire` itself, its TTLs clamped in it, for a
 * caller that copies the message at once (the store does) and is done with `wire`.
 */
export function validatedMessage(key: string, wire: Uint8Array, maxTtlSeconds: number, inPlace = false): StoredMessage | string {
  const mismatch = keyMismatch(key, wire);
  if (mismatch !== null) return mismatch;
  const scan = scanMessage(wire);
  if (typeof scan === 'string') return scan;
  if (scan.truncated) return 'truncated message';
  return toStored(wire, scan, maxTtlSeconds, inPlace);
}
