// One query over UDP from a fresh socket: the kernel picks a random source port for each
// exchange, which with a random ID makes a spoofed reply a guess of ~32 bits (RFC 5452 §9.2).

import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { CorePorts, UdpSocket } from '../../core/ports.ts';
import { replyMatches } from './reply-match.ts';
import type { UpstreamSpec } from './spec.ts';

export interface ExchangeCounters {
  upstream_mismatched_replies: number;
}

/** IPv6 peers may be reported in an expanded or mapped form; compare loosely. */
function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  const strip = (s: string) => s.replace(/^::ffff:/, '').toLowerCase();
  return strip(a) === strip(b);
}

export function exchangeUdp(
  ports: CorePorts,
  upstream: UpstreamSpec,
  query: Uint8Array,
  timeoutMs: number,
  counters: ExchangeCounters,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let socket: UdpSocket | null = null;
    let done = false;
    const finish = (err: Error | null, reply?: Uint8Array) => {
      if (done) return;
      done = true;
      ports.timers.clearTimeout(timer);
      socket?.close();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = ports.timers.setTimeout(
      () => finish(new HoldfastError(ErrorCode.upstreamTimeout, `upstream: no reply over UDP within ${timeoutMs} ms (${upstream.label})`)),
      timeoutMs,
    );
    ports.net
      .bindUdp(upstream.family === 6 ? '::' : '0.0.0.0', 0, (bytes, from) => {
        if (from.port !== upstream.port || !sameAddress(from.address, upstream.address) || !replyMatches(bytes, query)) {
          counters.upstream_mismatched_replies++;
          return;
        }
        finish(null, bytes);
      })
      .then((s) => {
        socket = s;
        if (done) {
          s.close();
          return;
        }
        s.send(query, upstream.port, upstream.address);
      })
      .catch((e: Error) => finish(new HoldfastError(ErrorCode.upstreamNetwork, `upstream: UDP socket failed (${e.message})`)));
  });
}
