// The last stage: ask the upstreams. Builds our own query (fresh random ID, our EDNS), and
// hands back the reply in the form the cache stores.

import type { CorePorts } from '../../core/ports.ts';
import type { Counters } from '../../core/counters.ts';
import { toStored } from '../../core/wire/message.ts';
import { upstreamQuery } from '../../core/wire/reply.ts';
import { Source, type Next } from '../../core/answer.ts';
import { createUpstreamPool, type PoolOptions, type UpstreamPool } from '../../upstreams/pool.ts';
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
  const next: Next = async ({ query, background }) => {
    const reply = await pool.exchange(upstreamQuery(query, ports.entropy.id16()), { background });
    const message = toStored(reply.bytes, reply.scan, options.maxTtlSeconds);
    return {
      source: Source.upstream,
      reason: `${reply.upstream.label} in ${Math.round(reply.rttMs)} ms`,
      rcode: message.rcode,
      message,
      ageSeconds: 0,
    };
  };
  return { next, pool };
}
