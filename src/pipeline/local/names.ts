// Names as the local stage keeps them: the case-folded wire form as a string (the same form
// core/wire/names.ts nameKey() gives a query's name), so a lookup costs one string and no
// parsing of presentation text. "nas.lan" is "\x03nas\x03lan\x00".

import { parseAddress } from '../../core/net/cidr.ts';

/** A host name label as hosts files, leases and records use them: letters, digits, - and _. */
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** The key of a presentation name ("NAS.lan." or "nas.lan"), or null when it is no host name. */
export function nameKeyOf(text: string): string | null {
  const t = (text.endsWith('.') ? text.slice(0, -1) : text).toLowerCase();
  if (t === '' || t.length > 253) return null;
  let key = '';
  for (const label of t.split('.')) {
    if (!LABEL.test(label)) return null;
    key += String.fromCharCode(label.length) + label;
  }
  return key + '\0';
}

/** The wire bytes of a key. */
export function keyToWire(key: string): Uint8Array {
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) out[i] = key.charCodeAt(i);
  return out;
}

/** "nas.lan." from its key, for reasons and logs. */
export function keyToText(key: string): string {
  const labels: string[] = [];
  for (let p = 0; key.charCodeAt(p) !== 0 && p < key.length; p += key.charCodeAt(p) + 1) labels.push(key.slice(p + 1, p + 1 + key.charCodeAt(p)));
  return labels.join('.') + '.';
}

/** How many labels the key has. */
export function labelCount(key: string): number {
  let n = 0;
  for (let p = 0; key.charCodeAt(p) !== 0 && p < key.length; p += key.charCodeAt(p) + 1) n++;
  return n;
}

/** True when `key` is `zone` or a name under it, on a label boundary. */
export function isAtOrUnder(key: string, zone: string): boolean {
  const start = key.length - zone.length;
  if (start < 0 || !key.endsWith(zone)) return false;
  let p = 0;
  while (p < start) p += key.charCodeAt(p) + 1;
  return p === start;
}

/** Every proper ancestor of `key` ("a.b.lan" → "b.lan", "lan", but not the root). */
export function ancestorsOf(key: string): string[] {
  const out: string[] = [];
  for (let p = key.charCodeAt(0) + 1; p < key.length - 1; p += key.charCodeAt(p) + 1) out.push(key.slice(p));
  return out;
}

export interface ParsedAddress {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, as A and AAAA data carry them. */
  readonly bytes: Uint8Array;
}

const words = new Uint32Array(4);

/** An IPv4 or IPv6 address as record data; a zone ("%eth0") is dropped. Null when it is none. */
export function parseIp(text: string): ParsedAddress | null {
  // parseAddress reads ::ffff:a.b.c.d as IPv4: in a hosts file that spelling means an AAAA.
  const family = parseAddress(text, words);
  if (family === 0) return null;
  if (family === 4 && text.includes(':')) {
    const v4 = words[0];
    const bytes = new Uint8Array(16);
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    bytes.set([v4 >>> 24, (v4 >>> 16) & 0xff, (v4 >>> 8) & 0xff, v4 & 0xff], 12);
    return { family: 6, bytes };
  }
  if (family === 4) {
    const v4 = words[0];
    return { family: 4, bytes: Uint8Array.from([v4 >>> 24, (v4 >>> 16) & 0xff, (v4 >>> 8) & 0xff, v4 & 0xff]) };
  }
  const bytes = new Uint8Array(16);
  for (let w = 0; w < 4; w++) bytes.set([words[w] >>> 24, (words[w] >>> 16) & 0xff, (words[w] >>> 8) & 0xff, words[w] & 0xff], 4 * w);
  return { family: 6, bytes };
}

/** RFC 1035 §3.5 and RFC 3596 §2.5: the name a PTR for this address lives at, as a key. */
export function reverseKey(a: ParsedAddress): string {
  const labels: string[] = [];
  if (a.family === 4) {
    for (let i = 3; i >= 0; i--) labels.push(String(a.bytes[i]));
    labels.push('in-addr', 'arpa');
  } else {
    for (let i = 15; i >= 0; i--) labels.push((a.bytes[i] & 0x0f).toString(16), (a.bytes[i] >> 4).toString(16));
    labels.push('ip6', 'arpa');
  }
  return nameKeyOf(labels.join('.'))!;
}
