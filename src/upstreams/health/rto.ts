// An adaptive retransmit timeout per upstream, computed the way TCP does (RFC 6298 §2): a
// smoothed RTT and its mean deviation, RTO = SRTT + max(G, 4·RTTVAR), clamped to configured bounds.
// After a timeout the RTO doubles (§5.5) until a reply is measured again; replies to
// retransmitted queries are not measured (Karn's algorithm), since we cannot tell which copy
// they answer.

export interface RtoOptions {
  readonly minMs: number;
  readonly maxMs: number;
  /** RTO before the first measurement (RFC 6298 §2.1 says 1 s). */
  readonly initialMs: number;
  /**
   * RFC 6298's G: the least margin over SRTT. On a steady link RTTVAR decays towards zero,
   * and without a floor the slightest jitter would look like a loss.
   */
  readonly granularityMs?: number;
}

export interface RtoEstimator {
  /** A reply arrived `rttMs` after a query that was sent only once. */
  sample(rttMs: number): void;
  /** A query timed out: back off. */
  backOff(): void;
  readonly rtoMs: number;
  /** Smoothed RTT, or -1 before any sample. */
  readonly srttMs: number;
  readonly rttvarMs: number;
  /** Forgets every sample: the path changed (#12, a new WAN), so what was measured no longer holds. */
  reset(): void;
}

export function createRtoEstimator(o: RtoOptions): RtoEstimator {
  let srtt = -1;
  let rttvar = 0;
  let backoff = 1;
  const clamp = (v: number) => Math.min(o.maxMs, Math.max(o.minMs, v));
  const g = o.granularityMs ?? 0;
  const base = () => (srtt < 0 ? o.initialMs : srtt + Math.max(g, 4 * rttvar));
  return {
    sample(r) {
      if (srtt < 0) {
        srtt = r;
        rttvar = r / 2;
      } else {
        rttvar = 0.75 * rttvar + 0.25 * Math.abs(srtt - r);
        srtt = 0.875 * srtt + 0.125 * r;
      }
      backoff = 1;
    },
    backOff() {
      if (clamp(base() * backoff) < o.maxMs) backoff *= 2;
    },
    get rtoMs() {
      return clamp(base() * backoff);
    },
    get srttMs() {
      return srtt;
    },
    get rttvarMs() {
      return rttvar;
    },
    reset() {
      srtt = -1;
      rttvar = 0;
      backoff = 1;
    },
  };
}
