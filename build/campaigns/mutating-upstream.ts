// A loopback upstream for the campaigns, UDP and TCP on one port. Names starting with "good."
// always get a well-formed answer (the probes' names, so a probe never waits on a fault);
// every other question gets, by a seeded draw, a good answer, a mutated one (the right ID and
// question, then broken as test/helpers/mutate.ts breaks things), random bytes, silence, TC=1
// or SERVFAIL. With `mutateShare` 0 it is a plain, fast upstream (the soak and torture use it).

import { Buffer } from 'node:buffer';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { mutate } from '../../test/helpers/mutate.ts';
import { createPrng } from '../../test/helpers/prng.ts';
import { replyCorpus } from './corpus.ts';

export interface UpstreamOptions {
  readonly seed: number;
  /** Share of replies to non-probe names that are broken in some way (0..1). */
  readonly mutateShare: number;
  /** TTL of good answers, seconds. */
  readonly ttlSeconds: number;
}

export interface Upstream {
  readonly port: number;
  readonly counts: Record<string, number>;
  close(): Promise<void>;
}

function goodReply(q: { id: number; name: string; type: string; klass: string }, ttl: number, n: number): Uint8Array {
  const answers = q.type === 'A' && q.klass === 'IN' ? [{ type: 'A', name: q.name, ttl, data: `192.0.2.${(n % 250) + 1}` }] : [];
  return new Uint8Array(
    dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: [{ type: q.type, name: q.name, class: q.klass }], answers } as unknown as dnsPacket.Packet),
  );
}

export async function startUpstream(o: UpstreamOptions): Promise<Upstream> {
  const rnd = createPrng(o.seed);
  const counts: Record<string, number> = { good: 0, mutated: 0, random: 0, dropped: 0, truncated: 0, servfail: 0, unreadable: 0 };
  let n = 0;

  const replyTo = (bytes: Uint8Array, overUdp: boolean): Uint8Array | null => {
    let q: { id: number; name: string; type: string; klass: string };
    try {
      const d = dnsPacket.decode(Buffer.from(bytes)) as unknown as { id: number; questions: Array<{ name: string; type: string; class: string }> };
      const first = d.questions[0];
      q = { id: d.id, name: first.name, type: first.type, klass: first.class };
    } catch {
      counts.unreadable++;
      return null;
    }
    n++;
    if (q.name.startsWith('good.') || rnd.next() >= o.mutateShare) {
      counts.good++;
      return goodReply(q, o.ttlSeconds, n);
    }
    const kind = rnd.int(10);
    if (kind < 6) {
      counts.mutated++;
      const base = rnd.chance(0.5) ? goodReply(q, o.ttlSeconds, n) : rnd.pick(replyCorpus(q.name, q.id, q.type));
      return mutate(base, rnd).bytes;
    }
    if (kind === 6) {
      counts.random++;
      return rnd.bytes(rnd.range(0, 600));
    }
    if (kind === 7) {
      counts.dropped++;
      return null;
    }
    const r = goodReply(q, o.ttlSeconds, n);
    if (kind === 8 && overUdp) {
      counts.truncated++;
      r[2] |= 0x02; // TC: RFC 2181 §9, ask again over TCP
      return r;
    }
    counts.servfail++;
    r[3] = (r[3] & 0xf0) | 2;
    return r;
  };

  const sockets = new Set<net.Socket>();
  const serveTcp = (sock: net.Socket) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
    let buf = Buffer.alloc(0);
    sock.on('error', () => sock.destroy());
    sock.setTimeout(30_000, () => sock.destroy());
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + msg.length);
        const r = replyTo(msg, false);
        if (!r) continue;
        const framed = Buffer.alloc(2 + Math.min(r.length, 0xffff));
        framed.writeUInt16BE(framed.length - 2, 0);
        Buffer.from(r).copy(framed, 2, 0, framed.length - 2);
        sock.write(framed);
      }
    });
  };
  // One port for both: UDP on an ephemeral port, then TCP on the same number (retried if taken).
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    udp.on('message', (msg, from) => {
      const r = replyTo(new Uint8Array(msg), true);
      if (r) udp.send(r, from.port, from.address);
    });
    udp.on('error', () => {});
    const port = await new Promise<number>((res) => udp.bind(0, '127.0.0.1', () => res(udp.address().port)));
    const tcp = net.createServer(serveTcp);
    try {
      await new Promise<void>((res, rej) => {
        tcp.once('error', rej);
        tcp.listen(port, '127.0.0.1', () => res());
      });
    } catch (e) {
      udp.close();
      if (attempt > 10) throw e;
      continue;
    }
    return {
      port,
      counts,
      close: async () => {
        udp.close();
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => tcp.close(() => r()));
      },
    };
  }
}
