// Keeps popular entries fresh: once a second, the watched entries (those whose popularity rose
// through the threshold) that are close to expiry, or already expired, are refreshed in order of
// popularity, as far as the budget allows. Refreshes are background work: the pool refuses them
// while no upstream is healthy or half its in-flight limit is taken, so they never delay a
// client. After a restart from a snapshot, the popular entries that expired while we were down
// come first, because they are already due and scored highest.

import type { Clock, Timers } from '../../core/ports.ts';
import type { Counters } from '../../core/counters.ts';
import type { ServerConfig } from '../../config/config.ts';
import { replyKind, ReplyKind } from '../../pipeline/cache/policy.ts';
import { popularityAt } from '../../pipeline/cache/popularity.ts';
import { decayed, type CacheEntry, type CacheStore } from '../../pipeline/cache/store.ts';
import { createPrefetchBudget, type PrefetchBudget } from './budget.ts';

export interface PrefetchOptions {
  /** Refreshes per minute at most; 0 turns prefetch off. */
  readonly queriesPerMinute: number;
  /** Bytes per hour at most, queries and replies with their UDP/IP headers; 0 for no limit. */
  readonly bytesPerHour: number;
  /** Decayed hits from which an entry is kept fresh. */
  readonly minPopularity: number;
  readonly popularityHalfLifeSeconds: number;
  /** An entry is refreshed when this share of its TTL is left. */
  readonly leadFraction: number;
}

export interface PrefetchDeps {
  readonly store: CacheStore;
  /** Refreshes one entry through the stages below the cache; true when it brought an answer. */
  readonly refresh: (key: string, e: CacheEntry) => Promise<boolean>;
  /** May background work go upstream now? */
  readonly healthy: () => boolean;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly counters: Counters;
  /** After a failed refresh, how long an entry is left alone (the stale recheck interval). */
  readonly recheckMs: number;
}

export interface Prefetcher {
  /** An entry just became popular. */
  watch(key: string): void;
  /**
   * Looks through the whole cache for popular entries, as after loading a snapshot, a slice of
   * slots per turn of the event loop; resolves once done.
   */
  watchPopular(): Promise<void>;
  /** One round: what a timer does every second. */
  tick(): void;
  start(): void;
  stop(): void;
  readonly watched: number;
  readonly budget: PrefetchBudget;
}

const TICK_MS = 1_000;
/** Never less lead than this, so a short TTL still gets a tick before it runs out. */
const MIN_LEAD_MS = 2_000;
/** Bounds the memory and the per-tick work of watching. */
const MAX_WATCHED = 10_000;
/** Slots watchPopular() looks at in one turn of the event loop: ~1 ms, once warm. */
const WATCH_SLICE_SLOTS = 16_384;
/** UDP and IPv4 headers, each way. */
const PACKET_OVERHEAD_BYTES = 2 * 28;

/** What one refresh of `e` will cost on the wire: our query (name, question, OPT) and its reply. */
function estimateBytes(key: string, e: CacheEntry): number {
  return 12 + key.length + 11 + e.message.wire.length + PACKET_OVERHEAD_BYTES;
}

export function createPrefetcher(o: PrefetchOptions, d: PrefetchDeps): Prefetcher {
  const halfLifeMs = o.popularityHalfLifeSeconds * 1000;
  const budget = createPrefetchBudget(o, d.clock.now());
  const watched = new Set<string>();
  let timer: unknown = null;
  const enabled = o.queriesPerMinute > 0;

  function watch(key: string): void {
    if (enabled && watched.size < MAX_WATCHED) watched.add(key);
  }

  function tick(): void {
    if (!enabled || watched.size === 0) return;
    if (!d.healthy()) {
      d.counters.prefetch_paused++;
      return;
    }
    const now = d.clock.now();
    const due: Array<{ key: string; e: CacheEntry; score: number }> = [];
    for (const key of watched) {
      const e = d.store.peek(key);
      const score = e ? popularityAt(e, now, halfLifeMs) : 0;
      // Half the threshold to leave, so a name near it is not dropped and added every tick.
      if (!e || score < o.minPopularity / 2 || replyKind(e.message) === ReplyKind.servfail) {
        watched.delete(key);
        continue;
      }
      if (e.revalidating || now - e.failedAtMs < d.recheckMs) continue;
      const leadMs = Math.max(MIN_LEAD_MS, (e.expiresAtMs - e.storedAtMs) * o.leadFraction);
      if (e.expiresAtMs - now <= leadMs) due.push({ key, e, score });
    }
    due.sort((a, b) => b.score - a.score);
    for (const { key, e } of due) {
      const estimate = estimateBytes(key, e);
      if (!budget.trySpend(estimate, now)) {
        d.counters.prefetch_over_budget++;
        break;
      }
      d.counters.prefetch_queries++;
      d.refresh(key, e).then((ok) => {
        if (!ok) {
          d.counters.prefetch_failures++;
          return;
        }
        // The new entry's reply may be larger or smaller than the old one was.
        const fresh = d.store.peek(key);
        if (fresh) budget.adjust(estimateBytes(key, fresh) - estimate);
      });
    }
  }

  return {
    watch,
    watchPopular() {
      if (!enabled) return Promise.resolve();
      const store = d.store;
      const now = d.clock.now();
      // By slot number, two numbers a slot, no handle per entry (~12 ms at 100,000 entries, in
      // the turn of the loop right after a load), and in slices: at a million entries even this
      // walk would hold the loop (#11). Only the popular few become key strings, at the end.
      const popular: Array<[number, number, number]> = [];
      let slot = 0;
      return new Promise<void>((resolve) => {
        const slice = () => {
          const end = Math.min(store.slotCount, slot + WATCH_SLICE_SLOTS);
          for (; slot < end; slot++) {
            // Decay only lowers a score: one already under the threshold needs no power of two.
            if (!store.inUse(slot) || store.popularityOf(slot) < o.minPopularity) continue;
            const score = decayed(store.popularityOf(slot), store.popularityAtMs(slot), now, halfLifeMs);
            if (score >= o.minPopularity) popular.push([slot, store.generationOf(slot), score]);
          }
          if (slot < store.slotCount) {
            d.timers.setImmediate(slice);
            return;
          }
          // The most popular first, in case there are more than we watch.
          popular.sort((a, b) => b[2] - a[2]);
          for (const [s, generation] of popular) {
            if (watched.size >= MAX_WATCHED) break;
            // Left meanwhile (evicted, or its slot taken by another): not what was popular.
            if (store.inUse(s) && store.generationOf(s) === generation) watch(store.keyAt(s));
          }
          resolve();
        };
        slice();
      });
    },
    tick,
    start() {
      if (!enabled || timer !== null) return;
      const loop = () => {
        tick();
        timer = d.timers.setTimeout(loop, TICK_MS);
      };
      timer = d.timers.setTimeout(loop, TICK_MS);
    },
    stop() {
      if (timer !== null) d.timers.clearTimeout(timer);
      timer = null;
    },
    get watched() {
      return watched.size;
    },
    budget,
  };
}

/** What of the pipeline the prefetcher works on (src/pipeline/chain.ts). */
export interface PrefetchedPipeline {
  readonly cache: CacheStore;
  readonly upstreams: { healthy(): boolean };
  refresh(key: string, entry: CacheEntry): Promise<boolean>;
  onPopular: (key: string) => void;
}

/** A prefetcher for `pipeline`, told of every entry the cache finds popular. Not yet started. */
export function attachPrefetcher(
  pipeline: PrefetchedPipeline,
  config: Pick<ServerConfig, 'prefetch' | 'cache'>,
  ports: { clock: Clock; timers: Timers },
  counters: Counters,
): Prefetcher {
  const prefetcher = createPrefetcher(config.prefetch, {
    store: pipeline.cache,
    refresh: (key, e) => pipeline.refresh(key, e),
    healthy: () => pipeline.upstreams.healthy(),
    clock: ports.clock,
    timers: ports.timers,
    counters,
    recheckMs: config.cache.staleRecheckSeconds * 1000,
  });
  pipeline.onPopular = (key) => prefetcher.watch(key);
  return prefetcher;
}
