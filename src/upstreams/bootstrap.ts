// Addresses for upstreams given by host name (tls://dns.example, https://dns.example/...),
// asked of plain bootstrap upstreams (--bootstrap, or the udp:// and tcp:// upstreams given),
// never of Holdfast itself. An address is kept for its TTL (clamped); one that stopped working
// is asked for again, and while the bootstrap cannot answer the last address known is used.

import { ErrorCode, HoldfastError } from '../core/errors.ts';
import type { CorePorts } from '../core/ports.ts';
import { Flag2, HEADER_BYTES, RRType, setU16, u16 } from '../core/wire/header.ts';
import { scanMessage } from '../core/wire/message.ts';
import { textToName } from '../core/wire/names.ts';
import type { ExchangeCounters } from './bounded-exchange.ts';
import type { UpstreamSpec } from './spec.ts';
import type { HostResolver } from './transport.ts';
import { exchangeTcp } from './tcp.ts';
import { exchangeUdp } from './udp.ts';

const MIN_TTL_SECONDS = 60;
const MAX_TTL_SECONDS = 86_400;
const TRY_TIMEOUT_MS = 2_000;

export interface Known {
  address: string;
  expiresAtMs: number;
}

function addressQuery(name: string, type: number, id: number): Uint8Array {
  const qname = textToName(name);
  const q = new Uint8Array(HEADER_BYTES + qname.length + 4);
  setU16(q, 0, id);
  q[2] = Flag2.RD;
  setU16(q, 4, 1);
  q.set(qname, HEADER_BYTES);
  setU16(q, HEADER_BYTES + qname.length, type);
  setU16(q, HEADER_BYTES + qname.length + 2, 1);
  return q;
}

/** The first address of `type` in the answer section, with the lowest answer TTL; null if none. */
export function firstAddress(reply: Uint8Array, type: number): Known | null {
  const scan = scanMessage(reply);
  if (typeof scan === 'string' || scan.rcode !== 0) return null;
  // scanMessage records each record's TTL offset: its type sits 4 bytes before, RDLENGTH just after.
  for (let i = 0; i < scan.answerPairs; i++) {
    const ttlAt = scan.ttls[2 * i];
    const rdlen = u16(reply, ttlAt + 4);
    const data = ttlAt + 6;
    if (u16(reply, ttlAt - 4) !== type) continue;
    if (type === RRType.A && rdlen === 4) {
      return { address: [...reply.subarray(data, data + 4)].join('.'), expiresAtMs: scan.minAnswerTtl };
    }
    if (type === RRType.AAAA && rdlen === 16) {
      const groups: string[] = [];
      for (let g = 0; g < 8; g++) groups.push(u16(reply, data + 2 * g).toString(16));
      return { address: groups.join(':'), expiresAtMs: scan.minAnswerTtl };
    }
  }
  return null;
}

export function createBootstrap(upstreams: readonly UpstreamSpec[], ports: CorePorts, counters: ExchangeCounters): HostResolver {
  const known = new Map<string, Known>();
  const asking = new Map<string, Promise<string>>();

  const ask = async (name: string): Promise<string> => {
    let lastError = 'no bootstrap upstream answered';
    for (const type of [RRType.A, RRType.AAAA]) {
      for (const u of upstreams) {
        const q = addressQuery(name, type, ports.entropy.id16());
        try {
          const reply = u.protocol === 'tcp' ? await exchangeTcp(ports, u, q, TRY_TIMEOUT_MS, counters) : await exchangeUdp(ports, u, q, TRY_TIMEOUT_MS, counters);
          const found = firstAddress(reply, type);
          if (found) {
            const ttl = Math.min(MAX_TTL_SECONDS, Math.max(MIN_TTL_SECONDS, found.expiresAtMs));
            known.set(name, { address: found.address, expiresAtMs: ports.clock.now() + ttl * 1000 });
            return found.address;
          }
          lastError = `${u.label} has no ${type === RRType.A ? 'A' : 'AAAA'} record for it`;
        } catch (e) {
          lastError = (e as Error).message;
        }
      }
    }
    throw new HoldfastError(ErrorCode.upstreamNetwork, lastError);
  };

  return {
    resolve(name) {
      const k = known.get(name);
      if (k && k.expiresAtMs > ports.clock.now()) return Promise.resolve(k.address);
      let p = asking.get(name);
      if (!p) {
        p = ask(name)
          .catch((e) => {
            // The bootstrap is down: an address that worked before is better than none.
            if (k) return k.address;
            throw e;
          })
          .finally(() => asking.delete(name));
        asking.set(name, p);
      }
      return p;
    },
    forget(name) {
      const k = known.get(name);
      if (k) k.expiresAtMs = 0;
    },
  };
}
