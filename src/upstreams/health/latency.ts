// How long one upstream takes to reply, as a distribution: a log-scale histogram of reply times
// whose older samples weigh less and less. A recursive upstream answers from its cache in a
// millisecond and after recursion in hundreds; one smoothed RTT (RFC 6298) blends the two, and a
// retransmit timeout of SRTT plus a margin then calls every miss lost. The histogram keeps both
// modes, so it can say how often a reply comes this late, and with the link's loss, when
// silence is more likely loss than slowness (hedgeAfterMs).

/** Sixteen buckets an octave: each about 4% wide, fine enough to tell 80 ms from 84 ms. */
const BUCKETS_PER_OCTAVE = 16;
/** 1 ms to 16 s; a reply outside goes in the first or the last bucket. */
const FIRST_MS = 1;
const BUCKETS = BUCKETS_PER_OCTAVE * 14;
/** Each sample weighs this much more than the one before: the view follows the last few hundred replies. */
const GROWTH = 1 + 1 / 128;
/** Before this many replies the view says nothing, and the RTO estimator decides alone. */
const MIN_SAMPLES = 8;

/** Where bucket `i` begins, in ms (bucket 0 begins at 0). */
const lowerEdge = (i: number) => (i === 0 ? 0 : FIRST_MS * 2 ** (i / BUCKETS_PER_OCTAVE));
const upperEdge = (i: number) => FIRST_MS * 2 ** ((i + 1) / BUCKETS_PER_OCTAVE);

export interface LatencyView {
  /** A reply came `ms` after its copy was sent. */
  sample(ms: number): void;
  /** Replies seen (not weighted). */
  readonly samples: number;
  /** The share of replies slower than `ms`, recent ones weighing more. */
  slowerThan(ms: number): number;
  /** The least time that no more than `share` of replies take longer than; 0 with no samples. */
  timeWithTail(share: number): number;
}

export function createLatencyView(): LatencyView {
  const weights = new Float64Array(BUCKETS);
  let total = 0;
  let next = 1;
  let samples = 0;
  /** The highest bucket ever given weight: those above are empty, and a search starts here. */
  let top = 0;
  return {
    sample(ms) {
      const i = ms < FIRST_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log2(ms / FIRST_MS) * BUCKETS_PER_OCTAVE));
      if (i > top) top = i;
      weights[i] += next;
      total += next;
      next *= GROWTH;
      samples++;
      // Growing weights instead of decaying old ones: one addition a sample. Rescaled long
      // before a double loses precision.
      if (next > 1e100) {
        for (let j = 0; j < BUCKETS; j++) weights[j] /= next;
        total /= next;
        next = 1;
      }
    },
    get samples() {
      return samples;
    },
    slowerThan(ms) {
      if (total === 0) return 0;
      let above = 0;
      for (let i = BUCKETS - 1; i >= 0; i--) {
        const lo = lowerEdge(i);
        const hi = upperEdge(i);
        if (lo >= ms) above += weights[i];
        else {
          // Spread evenly over the bucket.
          if (hi > ms) above += (weights[i] * (hi - ms)) / (hi - lo);
          break;
        }
      }
      return above / total;
    },
    timeWithTail(share) {
      if (total === 0) return 0;
      const allowed = share * total;
      let above = 0;
      // From the highest bucket used, not the last: each copy asks (hedgeAfterMs), and on a LAN
      // the replies fill a few buckets near 1 ms out of 224.
      for (let i = top; i >= 0; i--) {
        if (weights[i] === 0) continue;
        if (above + weights[i] > allowed) {
          // The time inside this bucket above which `allowed` of the weight lies.
          const lo = lowerEdge(i);
          const hi = upperEdge(i);
          return hi - ((allowed - above) / weights[i]) * (hi - lo);
        }
        above += weights[i];
      }
      return 0;
    },
  };
}

/**
 * How sure we want to be that a silent copy is lost, not slow, before another copy follows: at
 * 0.9, one hedge in ten is sent for a reply that was only slow.
 */
const SURE_LOST = 0.9;
/** Loss is never taken for nil: a link that has lost nothing lately may still lose a packet. */
const LEAST_LOSS = 0.01;
/** A copy is given at least the time in which half the replies come. */
const MOST_TAIL = 0.5;
/** Timers and scheduling add a little to every measured reply time. */
const MARGIN = 1.05;
const MARGIN_MS = 1;

/**
 * When, after a copy was sent, its silence says "lost" with probability SURE_LOST; null while
 * too few replies were seen to say. Bayes: a copy silent at t was lost with probability
 * L / (L + (1 − L)·S(t)), for a loss share L and S(t) the share of replies slower than t; that
 * reaches SURE_LOST once S(t) ≤ L·(1 − SURE_LOST) / (SURE_LOST·(1 − L)). On a clean link
 * (L ≈ 0.01) that is the slowest thousandth of replies: a recursion that takes 200 ms gets no
 * copy, if such recursions are seen at all. At 30% loss each way (L ≈ 0.5) it is the slowest
 * ninth: the next copy goes as soon as most replies would have come.
 */
export function hedgeAfterMs(view: LatencyView, lossShare: number): number | null {
  if (view.samples < MIN_SAMPLES) return null;
  const loss = Math.min(0.99, Math.max(LEAST_LOSS, lossShare));
  // Never before the median reply, however lossy the link looks: just after an outage nearly
  // every copy was lost, and the rule alone would send the next copy at once.
  const tail = Math.min(MOST_TAIL, (loss * (1 - SURE_LOST)) / (SURE_LOST * (1 - loss)));
  return view.timeWithTail(tail) * MARGIN + MARGIN_MS;
}
