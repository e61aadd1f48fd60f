// Building DNS messages for tests with dns-packet, an implementation independent of ours.

import { Buffer } from 'node:buffer';
import dnsPacket from 'dns-packet';
import type { Answer, Packet, Question } from 'dns-packet';

export { dnsPacket };
export type { Answer, Packet, Question };

export function encode(p: Packet): Uint8Array {
  return new Uint8Array(dnsPacket.encode(p));
}

/** A decoded record, loosely typed: tests read ttl and data off any record type. */
export interface Rec {
  type: string;
  name: string;
  ttl?: number;
  class?: string;
  data?: unknown;
}

export interface Decoded {
  id: number;
  rcode: string;
  flag_qr: boolean;
  flag_aa: boolean;
  flag_tc: boolean;
  flag_rd: boolean;
  flag_ra: boolean;
  flag_ad: boolean;
  flag_cd: boolean;
  questions: Question[];
  answers: Rec[];
  authorities: Rec[];
  additionals: Rec[];
}

export function decode(bytes: Uint8Array): Decoded {
  return dnsPacket.decode(Buffer.from(bytes)) as unknown as Decoded;
}

const RCODES: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

export interface QueryOptions {
  id?: number;
  edns?: number | false;
  do?: boolean;
  cd?: boolean;
  rd?: boolean;
}

export function query(name: string, type = 'A', o: QueryOptions = {}): Uint8Array {
  const edns = o.edns === undefined ? 1232 : o.edns;
  return encode({
    type: 'query',
    id: o.id ?? 0x1234,
    flags: (o.rd === false ? 0 : dnsPacket.RECURSION_DESIRED) | (o.cd ? dnsPacket.CHECKING_DISABLED : 0),
    questions: [{ type: type as Question['type'], name, class: 'IN' }],
    additionals:
      edns === false ? [] : [{ type: 'OPT', name: '.', udpPayloadSize: edns, flags: o.do ? dnsPacket.DNSSEC_OK : 0, options: [] } as unknown as Answer],
  });
}

/** A reply to `q` (bytes as sent upstream) with the given records. */
export function reply(q: Uint8Array, o: { rcode?: string; answers?: Answer[]; authorities?: Answer[]; additionals?: Answer[]; tc?: boolean; id?: number } = {}): Uint8Array {
  const dq = decode(q);
  return encode({
    type: 'response',
    id: o.id ?? dq.id,
    // dns-packet takes the rcode in the low bits of flags.
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (o.tc ? dnsPacket.TRUNCATED_RESPONSE : 0) | RCODES[o.rcode ?? 'NOERROR'],
    questions: dq.questions,
    answers: o.answers ?? [],
    authorities: o.authorities ?? [],
    additionals: o.additionals ?? [],
  } as Packet);
}

export const soa = (zone: string, ttl: number, minimum: number): Answer =>
  ({ type: 'SOA', name: zone, ttl, class: 'IN', data: { mname: `ns.${zone}`, rname: `admin.${zone}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum } }) as Answer;
