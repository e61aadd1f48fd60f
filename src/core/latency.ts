// How long answers take, per source, as fixed-bucket histograms. Recording one costs a cache
// hit a few comparisons and two array increments: the buckets are fixed, the counts live in
// one typed array, and nothing is allocated per query. /metrics reads them.

import { Source } from './answer.ts';

/**
 * Upper bounds in ms. A cache hit takes tens of microseconds, so the first bucket is 0.1 ms;
 * the last, 5 s, is past the upstream deadline (4 s by default).
 */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/** Every source an answer can have, in the order histograms are kept and shown. */
export const LATENCY_SOURCES: readonly Source[] = Object.values(Source);

const INDEX = Object.fromEntries(LATENCY_SOURCES.map((s, i) => [s, i])) as Record<Source, number>;
/** Buckets per source: the bounded ones and +Inf. */
const SLOTS = LATENCY_BUCKETS_MS.length + 1;

export interface LatencyHistogram {
  /** Per bucket, not cumulative; the last is +Inf (above the largest bound). */
  readonly counts: readonly number[];
  readonly count: number;
  readonly sumMs: number;
}

export interface LatencyHistograms {
  observe(source: Source, ms: number): void;
  /** A copy of one source's histogram, for a scrape. */
  read(source: Source): LatencyHistogram;
}

export function createLatencyHistograms(): LatencyHistograms {
  const counts = new Float64Array(LATENCY_SOURCES.length * SLOTS);
  const sums = new Float64Array(LATENCY_SOURCES.length);
  const totals = new Float64Array(LATENCY_SOURCES.length);
  const bounds = LATENCY_BUCKETS_MS;
  return {
    observe(source, ms) {
      const s = INDEX[source];
      if (s === undefined) return;
      // A clock without sub-ms resolution (or one stepped back) can give 0 or less: it fits the first bucket.
      let b = 0;
      while (b < bounds.length && ms > bounds[b]) b++;
      counts[s * SLOTS + b]++;
      sums[s] += ms > 0 ? ms : 0;
      totals[s]++;
    },
    read(source) {
      const s = INDEX[source];
      return { counts: Array.from(counts.subarray(s * SLOTS, (s + 1) * SLOTS)), count: totals[s], sumMs: sums[s] };
    },
  };
}
