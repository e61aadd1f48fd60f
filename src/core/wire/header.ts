// The fixed 12-byte DNS header (RFC 1035 §4.1.1), read and written in place on Uint8Array.

export const HEADER_BYTES = 12;

export const Opcode = { QUERY: 0 } as const;

export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  ANY: 255,
} as const;

export const RRClass = { IN: 1 } as const;

// Byte 2: QR(7) OPCODE(6..3) AA(2) TC(1) RD(0). Byte 3: RA(7) Z(6) AD(5) CD(4) RCODE(3..0).
export const Flag2 = { QR: 0x80, AA: 0x04, TC: 0x02, RD: 0x01 } as const;
export const Flag3 = { RA: 0x80, AD: 0x20, CD: 0x10 } as const;

export function u16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

export function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) >>> 0) + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]);
}

export function setU16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

export function setU32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

export const readId = (b: Uint8Array): number => u16(b, 0);
export const readOpcode = (b: Uint8Array): number => (b[2] >> 3) & 0x0f;
export const readRcode = (b: Uint8Array): number => b[3] & 0x0f;
export const isResponse = (b: Uint8Array): boolean => (b[2] & Flag2.QR) !== 0;
export const isTruncated = (b: Uint8Array): boolean => (b[2] & Flag2.TC) !== 0;
export const qdCount = (b: Uint8Array): number => u16(b, 4);
export const anCount = (b: Uint8Array): number => u16(b, 6);
export const nsCount = (b: Uint8Array): number => u16(b, 8);
export const arCount = (b: Uint8Array): number => u16(b, 10);
