// The fuzz campaign's seed corpus: queries shaped like dig's and kdig's (RD, AD, EDNS with a
// 1232 or 4096 buffer, the DO bit, a cookie, client subnet, padding), odd types and classes,
// more than one question, names written with compression pointers, and replies (what an
// upstream sends, and what a reflected packet looks like to us). Mutations of these, and plain
// random bytes, are what the campaign sends.

import { Buffer } from 'node:buffer';
import dnsPacket from 'dns-packet';

const NAMES = ['example.com', 'www.example.org', 'a.b.c.d.e.f.fuzz.test', 'xn--bcher-kva.example', '_sip._udp.fuzz.test', 'fuzz.test', '1.0.0.127.in-addr.arpa', 'x'];
const TYPES = ['A', 'AAAA', 'MX', 'TXT', 'NS', 'SOA', 'CNAME', 'PTR', 'SRV', 'CAA', 'HTTPS', 'SVCB', 'DS', 'DNSKEY', 'RRSIG', 'NSEC', 'ANY', 'NULL', 'AXFR'];

type Opt = Record<string, unknown>;

function opt(udpPayloadSize: number, dnssecOk: boolean, options: Opt[] = []): Opt {
  return { type: 'OPT', name: '.', udpPayloadSize, flags: dnssecOk ? dnsPacket.DNSSEC_OK : 0, options };
}

function packet(p: Record<string, unknown>): Uint8Array {
  return new Uint8Array(dnsPacket.encode(p as unknown as dnsPacket.Packet));
}

/** A query with the question name compressed: "www" then a pointer to a name in a 2nd question. */
function compressedQuestions(): Uint8Array {
  const b: number[] = [0x12, 0x34, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0];
  const second = b.length;
  b.push(4, ...Buffer.from('fuzz'), 4, ...Buffer.from('test'), 0, 0, 1, 0, 1);
  b.push(3, ...Buffer.from('www'), 0xc0, second, 0, 28, 0, 1);
  return new Uint8Array(b);
}

/** Type 65535 in class CH, and a type dns-packet has no name for, written by hand. */
function rawTypeQuery(type: number, klass: number): Uint8Array {
  return new Uint8Array([0xab, 0xcd, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 0, 4, ...Buffer.from('fuzz'), 4, ...Buffer.from('test'), 0, type >> 8, type & 0xff, klass >> 8, klass & 0xff]);
}

export function queryCorpus(): Uint8Array[] {
  const out: Uint8Array[] = [];
  let id = 1;
  for (const name of NAMES) {
    for (const type of TYPES) {
      // dig: RD, AD, EDNS 1232 with a cookie; kdig: RD, EDNS 1232; with +dnssec the DO bit.
      out.push(packet({ type: 'query', id: id++, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA, questions: [{ type, name }], additionals: [opt(1232, false, [{ code: 'COOKIE', data: Buffer.from('0123456789abcdef', 'hex') }])] }));
      out.push(packet({ type: 'query', id: id++, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }], additionals: [opt(4096, true)] }));
    }
    out.push(packet({ type: 'query', id: id++, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] }));
    out.push(packet({ type: 'query', id: id++, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED, questions: [{ type: 'A', name, class: 'CH' }], additionals: [opt(512, true, [{ code: 'PADDING', length: 40 }])] }));
    out.push(packet({ type: 'query', id: id++, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'AAAA', name }], additionals: [opt(1400, false, [{ code: 'CLIENT_SUBNET', family: 1, sourcePrefixLength: 24, scopePrefixLength: 0, ip: '192.0.2.0' }])] }));
  }
  out.push(compressedQuestions(), rawTypeQuery(65535, 3), rawTypeQuery(4242, 1), rawTypeQuery(1, 255));
  // Two OPT records, EDNS version 1, an opcode other than QUERY: each has its own answer.
  out.push(packet({ type: 'query', id: id++, flags: 0x0100, questions: [{ type: 'A', name: 'fuzz.test' }], additionals: [opt(1232, false), opt(1232, true)] }));
  const v1 = packet({ type: 'query', id: id++, flags: 0x0100, questions: [{ type: 'A', name: 'fuzz.test' }], additionals: [opt(1232, false)] });
  v1[v1.length - 6] = 1; // the OPT TTL's version byte
  out.push(v1);
  out.push(packet({ type: 'query', id: id++, opcode: 'NOTIFY', flags: 0, questions: [{ type: 'SOA', name: 'fuzz.test' }] }));
  out.push(...replyCorpus('fuzz.test', id));
  return out;
}

/** Replies for `name`: what an upstream sends (and, sent to us, what a reflection looks like). */
export function replyCorpus(name: string, id: number, type = 'A'): Uint8Array[] {
  const q = [{ type, name }];
  const flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE;
  return [
    packet({ type: 'response', id, flags, questions: q, answers: [{ type: 'A', name, ttl: 300, data: '192.0.2.1' }, { type: 'A', name, ttl: 300, data: '192.0.2.2' }] }),
    packet({ type: 'response', id, flags, questions: q, answers: [{ type: 'CNAME', name, ttl: 60, data: `alias.${name}` }, { type: 'A', name: `alias.${name}`, ttl: 60, data: '192.0.2.3' }], additionals: [opt(1232, true)] }),
    packet({ type: 'response', id, flags, rcode: 'NXDOMAIN', questions: q, authorities: [{ type: 'SOA', name, ttl: 900, data: { mname: `ns.${name}`, rname: `host.${name}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 300 } }] }),
    packet({ type: 'response', id, flags, questions: q, answers: [{ type: 'TXT', name, ttl: 120, data: ['v=spf1 -all', 'x'.repeat(200)] }, { type: 'MX', name, ttl: 120, data: { preference: 10, exchange: `mail.${name}` } }] }),
  ];
}
