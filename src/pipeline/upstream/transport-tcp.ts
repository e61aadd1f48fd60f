// One query over a new TCP connection (RFC 7766). Used for udp:// upstreams when a reply comes
// back truncated, and for tcp:// upstreams.

import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { ByteStream, CorePorts } from '../../core/ports.ts';
import { createFrameReader, frame } from '../../core/stream-framer.ts';
import { MAX_TCP_MESSAGE } from '../../core/wire/reply.ts';
import { replyMatches } from './reply-match.ts';
import type { UpstreamSpec } from './spec.ts';
import type { ExchangeCounters } from './transport-udp.ts';

export function exchangeTcp(
  ports: CorePorts,
  upstream: UpstreamSpec,
  query: Uint8Array,
  timeoutMs: number,
  counters: ExchangeCounters,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let stream: ByteStream | null = null;
    let done = false;
    const finish = (err: Error | null, reply?: Uint8Array) => {
      if (done) return;
      done = true;
      ports.timers.clearTimeout(timer);
      stream?.close();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = ports.timers.setTimeout(
      () => finish(new HoldfastError(ErrorCode.upstreamTimeout, `upstream: no reply over TCP within ${timeoutMs} ms (${upstream.label})`)),
      timeoutMs,
    );
    const reader = createFrameReader(
      MAX_TCP_MESSAGE,
      (message) => {
        if (replyMatches(message, query)) finish(null, message);
        else counters.upstream_mismatched_replies++;
      },
      () => {},
    );
    ports.net
      .connectTcp(upstream.address, upstream.port, {
        onData: (bytes) => reader.push(bytes),
        onClose: (e) =>
          finish(new HoldfastError(ErrorCode.upstreamNetwork, `upstream: TCP connection closed before a reply (${e?.message ?? upstream.label})`)),
      })
      .then((s) => {
        stream = s;
        if (done) s.close();
        else s.write(frame(query));
      })
      .catch((e: Error) => finish(new HoldfastError(ErrorCode.upstreamNetwork, `upstream: TCP connect to ${upstream.label} failed (${e.message})`)));
  });
}
