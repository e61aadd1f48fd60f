// /api/stats: what the status page shows, as one JSON object. Read from the same counters and
// pipeline state as /metrics, shaped for a person rather than for Prometheus.

import type { Counters } from '../../core/counters.ts';
import { LATENCY_BUCKETS_MS, type LatencyHistogram } from '../../core/latency.ts';
import { nameToText } from '../../core/wire/names.ts';
import { queryFromKey } from '../../core/wire/query.ts';
import { typeName } from '../../core/wire/type-names.ts';
import { popularityAt } from '../../pipeline/cache/popularity.ts';
import type { CacheEntry } from '../../pipeline/cache/store.ts';
import { allUpstreams, readiness, type ReadinessView, type StaleWatch } from './health.ts';
import type { MetricsView } from './metrics.ts';

export type StatsView = MetricsView &
  ReadinessView & {
    readonly pipeline: {
      readonly cache: { entries(): IterableIterator<CacheEntry> };
      /** The block stage's most blocked names (a bounded space-saving count). */
      readonly block: { topBlocked(limit: number): ReadonlyArray<{ readonly name: string; readonly count: number }> };
    };
  };

/** Top names are found by looking at this many cache entries at most, so a request costs bounded work. */
const TOP_SCAN_LIMIT = 20_000;
const TOP_NAMES = 10;

/** The latency below which `q` of the answers fell, interpolated within its bucket; null with none. */
export function quantileMs(h: LatencyHistogram, q: number): number | null {
  if (h.count === 0) return null;
  const rank = q * h.count;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i];
    if (c > 0 && seen + c >= rank) {
      // Beyond the last bound nothing is known but "more than 5 s".
      if (i === LATENCY_BUCKETS_MS.length) return LATENCY_BUCKETS_MS[i - 1];
      const low = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1];
      return low + (LATENCY_BUCKETS_MS[i] - low) * ((rank - seen) / c);
    }
    seen += c;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1];
}

export interface TopName {
  readonly name: string;
  readonly type: string;
  /** Hits, each counted less as it ages (the prefetch half-life). */
  readonly popularity: number;
}

/** The most popular cache entries, from a bounded look at the cache. */
export function topNames(entries: Iterable<CacheEntry>, nowMs: number, halfLifeMs: number, limit = TOP_NAMES): TopName[] {
  const best: Array<{ e: CacheEntry; score: number }> = [];
  let looked = 0;
  for (const e of entries) {
    if (++looked > TOP_SCAN_LIMIT) break;
    const score = popularityAt(e, nowMs, halfLifeMs);
    if (score <= 0 || (best.length === limit && score <= best[limit - 1].score)) continue;
    let i = best.length;
    while (i > 0 && best[i - 1].score < score) i--;
    best.splice(i, 0, { e, score });
    if (best.length > limit) best.pop();
  }
  return best.map(({ e, score }) => {
    const q = queryFromKey(e.key);
    return {
      name: q ? nameToText(q.bytes, 12) : '?',
      type: q ? typeName(q.qtype) : '?',
      popularity: Math.round(score * 10) / 10,
    };
  });
}

function answers(c: Readonly<Counters>) {
  return {
    freshHit: c.answers_cache_fresh,
    stale: c.answers_stale,
    negativeHit: c.answers_negative,
    upstream: c.answers_upstream,
    synthetic: c.answers_synthetic,
    local: c.answers_local,
    blocked: c.answers_blocked,
    rewrite: c.answers_rewrite,
    forwardZone: c.answers_forward_zone,
    servfail: c.answers_servfail,
  };
}

export function stats(view: StatsView, staleWatch: StaleWatch, nowMs: number) {
  const c = view.counters;
  const a = answers(c);
  const fromCache = a.freshHit + a.stale + a.negativeHit;
  const total = fromCache + a.upstream + a.synthetic + a.local + a.blocked + a.rewrite + a.forwardZone + a.servfail;
  const ready = readiness(view, staleWatch, nowMs);
  const health = allUpstreams(view.pipeline.pools).map((u) => u.health);
  const fresh = view.latency.read('cache-fresh');
  const upstream = view.latency.read('upstream');
  return {
    version: view.version,
    runtime: view.runtime,
    nowMs,
    uptimeSeconds: Math.max(0, Math.round((nowMs - view.startedAtMs) / 1000)),
    queries: { udp: c.queries_udp, tcp: c.queries_tcp },
    answers: a,
    /** Answers from the cache (fresh, stale or negative) over all answers; null before any. */
    hitRatio: total === 0 ? null : fromCache / total,
    latencyMs: {
      cacheHitP50: quantileMs(fresh, 0.5),
      cacheHitP99: quantileMs(fresh, 0.99),
      upstreamP50: quantileMs(upstream, 0.5),
      upstreamP99: quantileMs(upstream, 0.99),
    },
    cache: { entries: view.pipeline.cache.size, maxEntries: view.config.cache.maxEntries },
    /**
     * Blocked answers over all answers, the names blocked most (counts are upper bounds once
     * more than 64 names were blocked), and each list with its size and age; null share before
     * any answer.
     */
    blocking: {
      share: total === 0 ? null : a.blocked / total,
      topNames: view.pipeline.block.topBlocked(TOP_NAMES).map((t) => ({ name: t.name, count: t.count })),
      lists: (view.blockLists?.status() ?? []).map((l) => ({ ...l, ageSeconds: l.updatedAtMs === null ? null : Math.max(0, Math.round((nowMs - l.updatedAtMs) / 1000)) })),
    },
    upstreams: ready.upstreams.map((u, i) => ({ ...u, queries: health[i].queries, replies: health[i].replies, failures: health[i].failures })),
    reachable: ready.reachable,
    zones: ready.zones,
    servingStale: ready.servingStale,
    prefetch: {
      queries: c.prefetch_queries,
      failures: c.prefetch_failures,
      budgetQueriesPerMinute: view.config.prefetch.queriesPerMinute,
    },
    topNames: topNames(view.pipeline.cache.entries(), nowMs, view.config.prefetch.popularityHalfLifeSeconds * 1000),
  };
}
