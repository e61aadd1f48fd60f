// The cache stage: a fresh entry answers at once with its TTLs counted down; otherwise the
// query goes on down the chain and what comes back is kept for as long as policy allows.

import type { Clock } from '../../core/ports.ts';
import type { Counters } from '../../core/counters.ts';
import { Source, type Answer, type Stage } from '../../core/answer.ts';
import { cacheTtlSeconds, replyKind, ReplyKind, type CachePolicy } from './policy.ts';
import { createCacheStore, type CacheStore } from './store.ts';

export interface CacheStageOptions extends CachePolicy {
  readonly maxEntries: number;
}

export function createCacheStage(options: CacheStageOptions, ports: { clock: Clock }, counters: Counters): { stage: Stage; store: CacheStore } {
  const clock = ports.clock;
  const store = createCacheStore(options.maxEntries, () => clock.now());

  const keep = (key: string, answer: Answer): Answer => {
    if (answer.message && !answer.shared && answer.source === Source.upstream) {
      const ttl = cacheTtlSeconds(answer.message, options);
      if (ttl > 0) {
        const before = store.stats.evictedExpired + store.stats.evictedLru;
        store.set(key, answer.message, clock.now(), ttl * 1000);
        counters.cache_inserts++;
        if (store.stats.evictedExpired + store.stats.evictedLru !== before) {
          counters.cache_evicted_expired = store.stats.evictedExpired;
          counters.cache_evicted_lru = store.stats.evictedLru;
        }
      }
    }
    return answer;
  };

  // Not async: a hit returns its answer synchronously (see MaybePromise in core/answer.ts).
  const stage: Stage = (req, next) => {
    const now = clock.now();
    const hit = store.get(req.query.key);
    if (hit && now < hit.expiresAtMs) {
      const negative = replyKind(hit.message) === ReplyKind.negative;
      return {
        source: negative ? Source.negative : Source.cacheFresh,
        reason: `${Math.ceil((hit.expiresAtMs - now) / 1000)}s left`,
        rcode: hit.message.rcode,
        message: hit.message,
        ageSeconds: Math.floor((now - hit.storedAtMs) / 1000),
      };
    }
    const key = req.query.key;
    const pending = next(req);
    return pending instanceof Promise ? pending.then((a) => keep(key, a)) : keep(key, pending);
  };
  return { stage, store };
}
