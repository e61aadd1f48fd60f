// The chain's fresh cache hits without the chain (HitPath, core/answer.ts; #11): the cache's
// answer, when every stage above it says it would pass the query on. Those stages are asked
// only once the cache has a fresh answer, so a miss costs one extra lookup and nothing else.

import type { HitPath, PassesOn } from '../core/answer.ts';
import type { CacheHits } from './cache/stage.ts';

export function createHitPath(above: readonly PassesOn[], cache: CacheHits): HitPath {
  return {
    find(q, transport) {
      const slot = cache.find(q);
      if (slot === -1) return -1;
      for (let i = 0; i < above.length; i++) if (!above[i](q, transport)) return -1;
      return slot;
    },
    answer: cache.answer,
    source: cache.source,
  };
}
