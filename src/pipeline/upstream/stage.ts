// The last stage: ask the upstreams. Builds our own query (fresh random ID, our EDNS), and
// hands back the reply in the form the cache stores.

import type { CorePorts } from '../../core/ports.ts';
import type { Counters } from '../../core/counters.ts';
import { toStored } from '../../core/wire/message.ts';
import { upstreamQuery } from '../../core/wire/reply.ts';
import { Source, type Answer, type Next } from '../../core/answer.ts';
import { createUpstreamPool, type PoolOptions, type UpstreamPool, type UpstreamReply } from '../../upstreams/pool.ts';
import type { UpstreamSpec } from '../../upstreams/spec.ts';
import type { EncryptedTransportSettings } from '../../upstreams/transport.ts';

export interface UpstreamStageOptions extends PoolOptions {
  readonly upstreams: readonly UpstreamSpec[];
  readonly maxTtlSeconds: number;
  /** For tls:// and https:// upstreams. */
  readonly encrypted?: EncryptedTransportSettings;
}

export function createUpstreamStage(options: UpstreamStageOptions, ports: CorePorts, counters: Counters): { next: Next; pool: UpstreamPool } {
  const pool = createUpstreamPool(options.upstreams, options, ports, counters, options.encrypted);
  const answerOf = (reply: UpstreamReply): Answer => {
    const message = toStored(reply.bytes, reply.scan, options.maxTtlSeconds);
    return {
      source: Source.upstream,
      reason: `${reply.upstream.label} in ${Math.round(reply.rttMs)} ms`,
      rcode: message.rcode,
      message,
      ageSeconds: 0,
    };
  };
  // Not async: one promise per miss fewer (#11). upstreamQuery throws nothing a caller could see.
  const next: Next = ({ query, background }) => pool.exchange(upstreamQuery(query, ports.entropy.id16()), { background }).then(answerOf);
  return { next, pool };
}
