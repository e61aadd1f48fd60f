// EDNS(0) Padding (RFC 7830) for queries that leave over an encrypted transport, so their
// length says less about the name asked. RFC 8467 §4.1 recommends padding queries to a
// multiple of 128 bytes ("Block-Length Padding").

import { RRType, arCount, setU16, u16 } from './header.ts';
import { OPT_BYTES } from './reply.ts';

/** RFC 7830 §3: the Padding option's code. */
export const PADDING_OPTION = 12;
const OPTION_HEADER_BYTES = 4;

/**
 * The query with a Padding option that makes its length a multiple of `blockBytes`. Only a
 * query whose last record is an OPT with no options (as upstreamQuery builds them) is padded;
 * anything else, or a block of 0, comes back as it is.
 */
export function padQuery(query: Uint8Array, blockBytes: number): Uint8Array {
  if (blockBytes <= 0 || arCount(query) === 0 || query.length < OPT_BYTES) return query;
  const opt = query.length - OPT_BYTES;
  if (query[opt] !== 0 || u16(query, opt + 1) !== RRType.OPT || u16(query, opt + 9) !== 0) return query;
  const unpadded = query.length + OPTION_HEADER_BYTES;
  const padBytes = (blockBytes - (unpadded % blockBytes)) % blockBytes;
  // RFC 7830 §3: the padding octets SHOULD be 0x00, which a fresh array already holds.
  const out = new Uint8Array(unpadded + padBytes);
  out.set(query);
  setU16(out, opt + 9, OPTION_HEADER_BYTES + padBytes);
  setU16(out, query.length, PADDING_OPTION);
  setU16(out, query.length + 2, padBytes);
  return out;
}
