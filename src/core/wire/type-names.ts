// Mnemonics for record types and rcodes, for people: logs, the status page, the query log.

import { Rcode } from '../errors.ts';
import { RRType } from './header.ts';

const TYPE_NAMES: Record<number, string> = {
  ...Object.fromEntries(Object.entries(RRType).map(([name, n]) => [n, name])),
  12: 'PTR',
  33: 'SRV',
  43: 'DS',
  48: 'DNSKEY',
  64: 'SVCB',
  65: 'HTTPS',
};

const RCODE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Rcode).map(([name, n]) => [n, name]));

/** A type's mnemonic, or TYPEn for one without (RFC 3597 §5). */
export function typeName(qtype: number): string {
  return TYPE_NAMES[qtype] ?? `TYPE${qtype}`;
}

/** An rcode's mnemonic, or RCODEn. */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

/** A type from its mnemonic (A, aaaa, TYPE65) or number, for people typing one; null if neither. */
export function typeNumber(text: string): number | null {
  const t = text.trim().toUpperCase();
  if (/^\d{1,5}$/.test(t) && Number(t) <= 65535) return Number(t);
  const m = /^TYPE(\d{1,5})$/.exec(t);
  if (m && Number(m[1]) <= 65535) return Number(m[1]);
  for (const [n, name] of Object.entries(TYPE_NAMES)) if (name === t) return Number(n);
  return null;
}
