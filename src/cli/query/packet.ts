// dns-packet, wrapped: building a query and decoding a whole reply for display. dns-packet
// works on Node's Buffer, so this stays outside the pure core (Deno and Bun provide node:buffer).

import { Buffer } from 'node:buffer';
import dnsPacket from 'dns-packet';
import type { Answer as PacketRecord, Packet, RecordType } from 'dns-packet';

export type { Packet, PacketRecord, RecordType };

/** Whether dns-packet knows `type` by name ("MX", "txt"); it would encode any other as type 0. */
export function isKnownType(type: string): boolean {
  const probe = dnsPacket.encode({ type: 'query', id: 0, questions: [{ type: type as RecordType, name: '.', class: 'IN' }] });
  // Header (12 bytes), the root name (1 byte), then QTYPE.
  return probe.readUInt16BE(13) !== 0;
}

export function encodeQuery(name: string, type: string, id: number, edns: boolean): Uint8Array {
  const packet: Packet = {
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as RecordType, name, class: 'IN' }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as unknown as PacketRecord] : [],
  };
  return new Uint8Array(dnsPacket.encode(packet));
}

export function decodeMessage(bytes: Uint8Array): Packet {
  return dnsPacket.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
