// One query over a new TCP connection (RFC 7766). Used for udp:// upstreams when a reply comes
// back truncated, and for tcp:// upstreams.

import { ErrorCode, HoldfastError } from '../core/errors.ts';
import type { CorePorts } from '../core/ports.ts';
import { createFrameReader, frame } from '../core/stream-framer.ts';
import { MAX_TCP_MESSAGE } from '../core/wire/reply.ts';
import { boundedExchange, type ExchangeCounters } from './bounded-exchange.ts';
import { isRefusal } from './refused.ts';
import { replyMatches } from './reply-match.ts';
import type { UpstreamSpec } from './spec.ts';
import type { StopSignal } from './stop.ts';

export function exchangeTcp(
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
    () => `upstream: no reply over TCP within ${timeoutMs} ms (${upstream.label})`,
    (settle) => {
      const reader = createFrameReader(
        MAX_TCP_MESSAGE,
        (message) => {
          if (replyMatches(message, query)) settle(null, message);
          else counters.upstream_mismatched_replies++;
        },
        () => {},
      );
      return ports.net.connectTcp(upstream.address, upstream.port, {
        onData: (bytes) => reader.push(bytes),
        onClose: (e) =>
          settle(new HoldfastError(ErrorCode.upstreamNetwork, `upstream: TCP connection closed before a reply (${e?.message ?? upstream.label})`)),
      });
    },
    (stream) => stream.write(frame(query)),
    (e) =>
      isRefusal(e)
        ? new HoldfastError(ErrorCode.upstreamRefused, `upstream: ${upstream.label} refused the TCP connection (${e.message})`)
        : new HoldfastError(ErrorCode.upstreamNetwork, `upstream: TCP connect to ${upstream.label} failed (${e.message})`),
    signal,
  );
}
