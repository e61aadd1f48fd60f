// RFC 5452 §9.1: accept a reply only if its ID and question match the query we sent (the
// transports also check its source address and port). Everything else is ignored.

import { HEADER_BYTES, Flag2, qdCount, u16 } from '../core/wire/header.ts';
import { endOfPlainName, sameName } from '../core/wire/names.ts';

export function replyMatches(reply: Uint8Array, sent: Uint8Array): boolean {
  if (reply.length < HEADER_BYTES) return false;
  if (reply[0] !== sent[0] || reply[1] !== sent[1]) return false;
  if ((reply[2] & Flag2.QR) === 0 || qdCount(reply) !== 1) return false;
  const sentEnd = endOfPlainName(sent, HEADER_BYTES);
  const replyEnd = endOfPlainName(reply, HEADER_BYTES);
  if (typeof sentEnd === 'string' || typeof replyEnd === 'string') return false;
  if (sentEnd !== replyEnd || replyEnd + 4 > reply.length) return false;
  if (!sameName(reply, HEADER_BYTES, sent, HEADER_BYTES, sentEnd - HEADER_BYTES)) return false;
  return u16(reply, replyEnd) === u16(sent, sentEnd) && u16(reply, replyEnd + 2) === u16(sent, sentEnd + 2);
}
