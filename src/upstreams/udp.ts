// One query over UDP from a fresh socket: the kernel picks a random source port for each
// exchange, which with a random ID makes a spoofed reply a guess of ~32 bits (RFC 5452 §9.2).
// For the odd query (bootstrap, NTP names, `holdfast query`); the pipeline's upstreams share a
// pool of sockets instead (udp-pool.ts), which costs a miss far less CPU.

import { ErrorCode, HoldfastError } from '../core/errors.ts';
import type { CorePorts } from '../core/ports.ts';
import { boundedExchange, type ExchangeCounters } from './bounded-exchange.ts';
import { isRefusal } from './refused.ts';
import { replyMatches } from './reply-match.ts';
import type { UpstreamSpec } from './spec.ts';
import type { StopSignal } from './stop.ts';

export type { ExchangeCounters };

/** IPv6 peers may be reported in an expanded or mapped form; compare loosely. */
export function sameAddress(a: string, b: string): boolean {
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
  signal?: StopSignal,
): Promise<Uint8Array> {
  return boundedExchange(
    ports.timers,
    timeoutMs,
    () => `upstream: no reply over UDP within ${timeoutMs} ms (${upstream.label})`,
    (settle) =>
      // Connected, so that an ICMP port unreachable comes back as an error: without it a
      // refusing upstream looks like a silent one and the client waits for the deadline.
      ports.net.connectUdp(upstream.address, upstream.port, {
        onMessage: (bytes, from) => {
          // RFC 5452 §9.1: the reply must come from where the query went, and match it.
          if (from.port !== upstream.port || !sameAddress(from.address, upstream.address) || !replyMatches(bytes, query)) {
            counters.upstream_mismatched_replies++;
            return;
          }
          settle(null, bytes);
        },
        onError: (e) =>
          settle(
            isRefusal(e)
              ? new HoldfastError(ErrorCode.upstreamRefused, `upstream: ${upstream.label} refused the query (ICMP port unreachable: nothing listens there)`)
              : new HoldfastError(ErrorCode.upstreamNetwork, `upstream: UDP socket to ${upstream.label} failed (${e.message})`),
          ),
      }),
    (socket) => socket.send(query),
    (e) => new HoldfastError(ErrorCode.upstreamNetwork, `upstream: UDP socket failed (${e.message})`),
    signal,
  );
}
