// Printing a reply the way dig does, close enough that people who know dig can read it.

import type { Packet, PacketRecord } from './packet.ts';

function hex(data: unknown): string {
  if (data instanceof Uint8Array) return '\\# ' + data.length + ' ' + Array.from(data, (b) => b.toString(16).padStart(2, '0')).join('');
  return JSON.stringify(data);
}

function rdata(r: PacketRecord): string {
  const d = (r as { data?: unknown }).data;
  switch (r.type) {
    case 'A':
    case 'AAAA':
      return String(d);
    case 'CNAME':
    case 'NS':
    case 'PTR':
    case 'DNAME':
      return `${d}.`;
    case 'MX': {
      const m = d as { preference: number; exchange: string };
      return `${m.preference} ${m.exchange}.`;
    }
    case 'TXT': {
      const parts = Array.isArray(d) ? d : [d];
      return parts.map((p) => JSON.stringify(p instanceof Uint8Array ? new TextDecoder().decode(p) : String(p))).join(' ');
    }
    case 'SOA': {
      const s = d as { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };
      return `${s.mname}. ${s.rname}. ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
    }
    case 'SRV': {
      const s = d as { priority: number; weight: number; port: number; target: string };
      return `${s.priority} ${s.weight} ${s.port} ${s.target}.`;
    }
    case 'HINFO': {
      const h = d as { cpu: string; os: string };
      return `"${h.cpu}" "${h.os}"`;
    }
    default:
      return hex(d);
  }
}

function owner(name: string): string {
  return name === '' || name === '.' ? '.' : `${name}.`;
}

function section(title: string, records: readonly PacketRecord[] | undefined): string[] {
  const rows = (records ?? []).filter((r) => r.type !== 'OPT');
  if (rows.length === 0) return [];
  return ['', `;; ${title} SECTION:`, ...rows.map((r) => `${owner(r.name)}\t${(r as { ttl?: number }).ttl ?? 0}\t${(r as { class?: string }).class ?? 'IN'}\t${r.type}\t${rdata(r)}`)];
}

export function formatReply(p: Packet, server: string, transport: string, elapsedMs: number, size: number): string {
  const flags = (['qr', 'aa', 'tc', 'rd', 'ra', 'ad', 'cd'] as const).filter((f) => (p as unknown as Record<string, boolean>)[`flag_${f}`]);
  const opt = (p.additionals ?? []).find((r) => r.type === 'OPT') as { udpPayloadSize?: number; flag_do?: boolean } | undefined;
  const lines = [
    `;; ->>HEADER<<- opcode: QUERY, status: ${(p as { rcode?: string }).rcode ?? 'NOERROR'}, id: ${p.id}`,
    `;; flags: ${flags.join(' ')}; QUERY: ${p.questions?.length ?? 0}, ANSWER: ${p.answers?.length ?? 0}, AUTHORITY: ${p.authorities?.length ?? 0}, ADDITIONAL: ${p.additionals?.length ?? 0}`,
  ];
  if (opt) lines.push('', ';; OPT PSEUDOSECTION:', `; EDNS: version: 0, flags:${opt.flag_do ? ' do' : ''}; udp: ${opt.udpPayloadSize}`);
  lines.push('', ';; QUESTION SECTION:', ...(p.questions ?? []).map((q) => `;${owner(q.name)}\t\t${q.class ?? 'IN'}\t${q.type}`));
  lines.push(...section('ANSWER', p.answers), ...section('AUTHORITY', p.authorities), ...section('ADDITIONAL', p.additionals));
  lines.push('', `;; Query time: ${Math.round(elapsedMs)} msec`, `;; SERVER: ${server}(${transport})`, `;; MSG SIZE  rcvd: ${size}`, '');
  return lines.join('\n');
}
