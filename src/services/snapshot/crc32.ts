// CRC-32 (IEEE 802.3, the one zlib and PNG use): enough to tell a torn or bit-flipped snapshot
// from a good one. Not a defence against tampering, which is not the threat here.

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32Update(0, bytes, start, end);
}

/**
 * The CRC-32 of what `crc` covered followed by bytes[start, end): a large body can be checked
 * a slice at a time (crc32Update(0, ...) starts one), so no slice blocks the event loop long.
 */
export function crc32Update(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
