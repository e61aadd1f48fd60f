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
