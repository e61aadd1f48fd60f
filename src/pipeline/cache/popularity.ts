// How popular a cache entry is: its hits, each worth less as it ages (exponential decay with a
// configured half-life). Stored as a score and the time it was last brought up to date, so a
// hit costs one multiplication and no list or timer.

import type { CacheEntry } from './store.ts';

/** The entry's score as of `nowMs`. */
export function popularityAt(e: Pick<CacheEntry, 'popularity' | 'popularityAtMs'>, nowMs: number, halfLifeMs: number): number {
  // A clock stepped backwards must not make old hits worth more.
  const elapsed = Math.max(0, nowMs - e.popularityAtMs);
  return e.popularity * 2 ** (-elapsed / halfLifeMs);
}

/** Counts a hit; returns the new score. */
export function addHit(e: CacheEntry, nowMs: number, halfLifeMs: number): number {
  const score = popularityAt(e, nowMs, halfLifeMs) + 1;
  e.popularity = score;
  e.popularityAtMs = nowMs;
  return score;
}
