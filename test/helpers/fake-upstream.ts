// A fake upstream DNS server for fault injection: UDP and TCP on one loopback port, answering
// each question by a per-name plan (answer, drop, delay, truncate over UDP, reply with a wrong
// ID or question, from a spoofed source port, garbage, SERVFAIL/REFUSED), and recording every
// query it receives so tests can check IDs, source ports, EDNS and counts.

import { createTestFramer } from './dns-client.ts';
import { Buffer } from 'node:buffer';
import dgram from 'node:dgram';
import net from 'node:net';
import { decode, encode, type Answer, type Decoded, type Packet } from './packets.ts';

/** One thing the fake sends back for a query; a plan lists them in order. */
export type Step =
  | {
      readonly send: 'answer';
      readonly delayMs?: number;
      /** SERVFAIL, REFUSED, NXDOMAIN...; NOERROR by default. */
      readonly rcode?: string;
      /** Records for the answer section; by default the fake's canned record for the question. */
      readonly answers?: readonly Answer[];
      /** Sets TC=1 and sends no records (RFC 2181 §9: "ask again over TCP"). */
      readonly truncated?: boolean;
    }
  /** A correct-looking reply with the ID plus one. */
  | { readonly send: 'wrong-id'; readonly delayMs?: number }
  /** A reply with the right ID for a different name. */
  | { readonly send: 'wrong-question'; readonly delayMs?: number }
  /** The right reply, but sent from another socket (another source port). */
  | { readonly send: 'spoofed-port'; readonly delayMs?: number }
  /** The query's ID and question followed by nonsense that claims five answers. */
  | { readonly send: 'garbage'; readonly delayMs?: number };

/** What to do per transport; an empty list drops the query. */
export interface Plan {
  readonly udp: readonly Step[];
  readonly tcp: readonly Step[];
}

const both = (steps: Step[]): Plan => ({ udp: steps, tcp: steps });

export const plans = {
  answer: (o: { answers?: Answer[]; delayMs?: number } = {}): Plan => both([{ send: 'answer', ...o }]),
  drop: (): Plan => both([]),
  delay: (delayMs: number): Plan => both([{ send: 'answer', delayMs }]),
  rcode: (rcode: string): Plan => both([{ send: 'answer', rcode, answers: [] }]),
  /** TC=1 over UDP, the whole answer over TCP. */
  truncatedOverUdp: (): Plan => ({ udp: [{ send: 'answer', truncated: true }], tcp: [{ send: 'answer' }] }),
  /** A bad reply first, then (after `afterMs`) the right one. */
  badThenGood: (bad: 'wrong-id' | 'wrong-question' | 'spoofed-port' | 'garbage', afterMs = 50): Plan =>
    both([{ send: bad }, { send: 'answer', delayMs: afterMs }]),
  garbage: (): Plan => both([{ send: 'garbage' }]),
} as const;

export interface Received {
  readonly transport: 'udp' | 'tcp';
  readonly fromPort: number;
  readonly id: number;
  /** As written on the wire, letter case kept, no trailing dot. */
  readonly name: string;
  readonly type: string;
  readonly rd: boolean;
  readonly cd: boolean;
  readonly edns: { readonly udpSize: number; readonly do: boolean; readonly version: number } | null;
  readonly bytes: Uint8Array;
}

export interface FakeUpstream {
  /** The UDP and TCP port on 127.0.0.1. */
  readonly port: number;
  readonly url: { udp: string; tcp: string };
  readonly received: Received[];
  /** Queries received for `name` (case-insensitive), over either transport unless given. */
  count(name: string, transport?: 'udp' | 'tcp'): number;
  /** The plan for one name (case-insensitive); others follow the default plan. */
  plan(name: string, plan: Plan): void;
  setDefault(plan: Plan): void;
  close(): Promise<void>;
}

export interface FakeUpstreamOptions {
  /** The address canned A answers carry, so tests can tell fakes apart. Default 192.0.2.1. */
  readonly a?: string;
  readonly ttl?: number;
  readonly defaultPlan?: Plan;
  /** UDP and TCP on this loopback port (it must be free); default: one the kernel picks. */
  readonly port?: number;
}

/** The address in the A record of every wrong-ID, wrong-question and spoofed-port reply. */
export const POISON = '198.51.100.66';

const norm = (name: string) => name.toLowerCase().replace(/\.$/, '');

function canned(q: Decoded['questions'][number], o: FakeUpstreamOptions): Answer[] {
  const ttl = o.ttl ?? 300;
  switch (q.type) {
    case 'A':
      return [{ type: 'A', name: q.name, ttl, class: 'IN', data: o.a ?? '192.0.2.1' } as Answer];
    case 'AAAA':
      return [{ type: 'AAAA', name: q.name, ttl, class: 'IN', data: '2001:db8::1' } as Answer];
    case 'TXT':
      return [{ type: 'TXT', name: q.name, ttl, class: 'IN', data: 'fake upstream' } as Answer];
    default:
      return [];
  }
}

function buildReply(query: Decoded, step: Extract<Step, { send: 'answer' }>, o: FakeUpstreamOptions, overrides: { id?: number; name?: string } = {}): Uint8Array {
  const rcodes: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
  const q = query.questions[0];
  const question = overrides.name ? { ...q, name: overrides.name } : q;
  const opt = query.additionals.find((r) => r.type === 'OPT');
  return encode({
    type: 'response',
    id: overrides.id ?? query.id,
    // dns-packet takes the rcode in the low four bits of flags.
    flags: (query.flag_rd ? 0x100 : 0) | 0x80 | (step.truncated ? 0x200 : 0) | (rcodes[step.rcode ?? 'NOERROR'] ?? 0),
    questions: [question],
    answers: step.truncated ? [] : ((step.answers ?? canned(question, o)) as Answer[]),
    additionals: opt ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as unknown as Answer] : [],
  } as Packet);
}

function render(step: Step, query: Decoded, raw: Uint8Array, o: FakeUpstreamOptions): Uint8Array {
  switch (step.send) {
    case 'answer':
      return buildReply(query, step, o);
    // The bad replies carry POISON, so a test can tell whether one was taken.
    case 'wrong-id':
      return buildReply(query, { send: 'answer' }, { ...o, a: POISON }, { id: (query.id + 1) & 0xffff });
    case 'wrong-question':
      return buildReply(query, { send: 'answer' }, { ...o, a: POISON }, { name: `other-${query.questions[0].name}` });
    case 'spoofed-port':
      return buildReply(query, { send: 'answer' }, { ...o, a: POISON });
    case 'garbage': {
      // Header and question copied, so the reply passes the ID and question checks and reaches
      // the parser; then ANCOUNT=5 over bytes that cannot be records.
      let end = 12;
      while (end < raw.length && raw[end] !== 0) end += raw[end] + 1;
      const out = new Uint8Array(end + 5 + 13);
      out.set(raw.subarray(0, end + 5));
      out[2] |= 0x80;
      out[6] = 0;
      out[7] = 5;
      out[10] = 0;
      out[11] = 0;
      for (let i = end + 5; i < out.length; i++) out[i] = 0xc0 | (i & 0x3f);
      return out;
    }
  }
}

export async function startFakeUpstream(o: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const received: Received[] = [];
  const byName = new Map<string, Plan>();
  let defaultPlan: Plan = o.defaultPlan ?? plans.answer();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const sockets = new Set<net.Socket>();
  let closed = false;

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!closed) fn();
    }, ms);
    timers.add(t);
  };

  const record = (transport: 'udp' | 'tcp', fromPort: number, raw: Uint8Array): Decoded | null => {
    let d: Decoded;
    try {
      d = decode(raw);
    } catch {
      return null;
    }
    const q = d.questions[0];
    if (!q) return null;
    const opt = d.additionals.find((r) => r.type === 'OPT') as { udpPayloadSize?: number; flags?: number; ednsVersion?: number } | undefined;
    received.push({
      transport,
      fromPort,
      id: d.id,
      name: q.name,
      type: q.type,
      rd: d.flag_rd,
      cd: d.flag_cd,
      edns: opt ? { udpSize: opt.udpPayloadSize ?? 0, do: ((opt.flags ?? 0) & 0x8000) !== 0, version: opt.ednsVersion ?? 0 } : null,
      bytes: raw,
    });
    return d;
  };

  const planFor = (d: Decoded) => byName.get(norm(d.questions[0].name)) ?? defaultPlan;

  const spoofer = dgram.createSocket('udp4');
  let udp = dgram.createSocket('udp4');
  const onUdp = (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    const raw = new Uint8Array(msg);
    const d = record('udp', rinfo.port, raw);
    if (!d) return;
    for (const step of planFor(d).udp) {
      later(step.delayMs ?? 0, () => {
        const out = Buffer.from(render(step, d, raw, o));
        (step.send === 'spoofed-port' ? spoofer : udp).send(out, rinfo.port, rinfo.address);
      });
    }
  };

  const tcp = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    const push = createTestFramer((raw) => {
      const d = record('tcp', sock.remotePort ?? 0, raw);
      if (!d) return;
      for (const step of planFor(d).tcp) {
        later(step.delayMs ?? 0, () => {
          const out = render(step, d, raw, o);
          const framed = Buffer.alloc(out.length + 2);
          framed.writeUInt16BE(out.length, 0);
          framed.set(out, 2);
          if (!sock.destroyed) sock.write(framed);
        });
      }
    });
    sock.on('data', (chunk: Buffer) => push(new Uint8Array(chunk)));
  });

  // UDP and TCP on the same port: bind UDP to port 0, then TCP to that port (retry if taken).
  let port = 0;
  for (let attempt = 0; attempt < (o.port ? 1 : 10) && port === 0; attempt++) {
    if (attempt > 0) udp = dgram.createSocket('udp4');
    udp.on('message', onUdp);
    const p = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(o.port ?? 0, '127.0.0.1', () => {
        udp.off('error', reject);
        resolve(udp.address().port);
      });
    });
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(p, '127.0.0.1', () => resolve(true));
    });
    if (ok) port = p;
    else await new Promise<void>((r) => udp.close(() => r()));
  }
  if (port === 0) throw new Error('fake upstream: no port free for both UDP and TCP');
  await new Promise<void>((resolve) => spoofer.bind(0, '127.0.0.1', () => resolve()));

  return {
    port,
    url: { udp: `udp://127.0.0.1:${port}`, tcp: `tcp://127.0.0.1:${port}` },
    received,
    count: (name, transport) => received.filter((r) => norm(r.name) === norm(name) && (!transport || r.transport === transport)).length,
    plan: (name, plan) => void byName.set(norm(name), plan),
    setDefault: (plan) => {
      defaultPlan = plan;
    },
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((r) => udp.close(() => r())),
        new Promise<void>((r) => spoofer.close(() => r())),
        new Promise<void>((r) => tcp.close(() => r())),
      ]);
    },
  };
}
