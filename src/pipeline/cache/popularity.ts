// How popular a cache entry is: its hits, each worth less as it ages (exponential decay with a
// configured half-life). Stored as a score and the time it was last brought up to date, so a
// hit costs one multiplication and no list or timer. The store keeps both in its slot arrays
// (store.ts addHit); these read and write them through an entry handle.

import { decayed, type CacheEntry } from './store.ts';

/** The entry's score as of `nowMs`. */
export function popularityAt(e: Pick<CacheEntry, 'popularity' | 'popularityAtMs'>, nowMs: number, halfLifeMs: number): number {
  return decayed(e.popularity, e.popularityAtMs, nowMs, halfLifeMs);
}

/** Counts a hit; returns the new score. */
export function addHit(e: CacheEntry, nowMs: number, halfLifeMs: number): number {
  const score = popularityAt(e, nowMs, halfLifeMs) + 1;
  e.popularity = score;
  e.popularityAtMs = nowMs;
  return score;
}
