// THE order of the pipeline. A query enters at the top and each stage either answers or
// passes it down; the upstream stage at the bottom always answers or throws. Who may ask at
// all is decided before this, from the address alone (access/, wired in server/start.ts).

import type { Next, Stage } from '../core/answer.ts';
import type { Counters } from '../core/counters.ts';
import type { ServerConfig } from '../core/config.ts';
import type { CorePorts } from '../core/ports.ts';
import { createCacheStage } from './cache/stage.ts';
import { createCoalesceStage } from './coalesce/stage.ts';
import { createAnyStage } from './policy/any-stage.ts';
import { createPrefetcher, type Prefetcher } from './prefetch/prefetcher.ts';
import { parseUpstream } from './upstream/spec.ts';
import { createUpstreamStage } from './upstream/stage.ts';

export function compose(stages: readonly Stage[], last: Next): Next {
  return stages.reduceRight<Next>((next, stage) => (req) => stage(req, next), last);
}

export function createPipeline(config: ServerConfig, ports: CorePorts, counters: Counters) {
  const upstream = createUpstreamStage(
    { ...config.upstream, upstreams: config.upstreams.map(parseUpstream), maxTtlSeconds: config.cache.maxTtlSeconds },
    ports,
    counters,
  );
  // The prefetcher and the cache know each other: hits tell it what is popular, and it asks
  // the cache to refresh through the stages below it.
  let prefetcher: Prefetcher | null = null;
  const cache = createCacheStage(
    {
      ...config.cache,
      popularity: {
        halfLifeSeconds: config.prefetch.popularityHalfLifeSeconds,
        minPopularity: config.prefetch.minPopularity,
        onPopular: (key) => prefetcher?.watch(key),
      },
    },
    ports,
    counters,
  );
  const coalesce = createCoalesceStage(counters);
  const belowCache = compose([coalesce.stage], upstream.next);
  const chain = compose(
    [
      createAnyStage(), // before the cache: ANY over UDP must never reach an upstream (RFC 8482)
      cache.stage, //      fresh hits end here
      coalesce.stage, //   after the cache: only misses share exchanges
    ],
    upstream.next,
  );
  prefetcher = createPrefetcher(config.prefetch, {
    store: cache.store,
    refresh: (key, e) => cache.refresh(key, e, belowCache),
    healthy: () => upstream.pool.healthy(),
    clock: ports.clock,
    timers: ports.timers,
    counters,
    recheckMs: config.cache.staleRecheckSeconds * 1000,
  });
  return { chain, cache: cache.store, upstreams: upstream.pool, inFlight: coalesce.inFlight, prefetcher };
}
