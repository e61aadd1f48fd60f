// What the log says about one upstream: that it fails (with the reason) and that it works
// again; one line per change, never per query. Two sources say so: its breaker (pool.ts), which
// is the hysteresis, opening only after `breakerFailures` failed copies in a row (silent ones
// only when nothing at all was heard lately, so a lossy link is not called failing) and closing
// on a reply; and its transport, whose failed TLS or proxy connection names the reason better
// than the breaker can. Whichever comes first is the line; the other adds none.
//
// A flapping upstream would still give two lines per flap, so a "failing" that comes within
// `flapHoldMs` of the last "recovered" is held back: if the upstream answers again before then,
// nothing is logged at all; if it still fails after it, the line is logged at its next failure
// (a failed probe, every cooldown), counting the flaps meanwhile. "recovered" only ever follows
// a logged "failing". So a flapping upstream gives at most two lines per `flapHoldMs`, plus one
// whenever the transport's reason for failing changes.

import type { ErrorCode } from '../../core/errors.ts';

export interface StatusEvent {
  /**
   * failing / recovered: from the breaker (pool.ts). connect-failed / connected: a transport's
   * own words for a connection that failed or works again (tls-dialer.ts), which stand for
   * "failing" and "recovered" so one change is one line, never two.
   */
  readonly kind: 'failing' | 'recovered' | 'connect-failed' | 'connected';
  readonly code: ErrorCode | null;
  readonly message: string;
}

export interface UpstreamStatus {
  /**
   * A failure that leaves the upstream down: its breaker is open (just opened, or again after
   * a failed probe), or a connection to it failed. A connect-failed event with new words while
   * already failing is logged too: the reason changed.
   */
  failed(nowMs: number, event: StatusEvent): void;
  /** It answers, or connects, again. */
  recovered(nowMs: number, event: StatusEvent): void;
  /** Is it down: failed, and not recovered since (whether the log said so yet or not)? */
  readonly down: boolean;
}

/** How long after a "recovered" line a new "failing" waits to be sure it is not a flap. */
export const FLAP_HOLD_MS = 60_000;

export function createUpstreamStatus(emit: (e: StatusEvent) => void, flapHoldMs = FLAP_HOLD_MS): UpstreamStatus {
  let down = false;
  /** The log's last word on it is that it fails, in these words; null: that it works. */
  let told: string | null = null;
  let failingSinceMs = 0;
  let recoveredAtMs = -Infinity;
  /** Times it went down since the last line. */
  let flaps = 0;

  return {
    failed(now, e) {
      if (!down) {
        down = true;
        flaps++;
      }
      if (told !== null) {
        if (e.kind === 'connect-failed' && e.message !== told) {
          told = e.message;
          emit(e);
        }
        return;
      }
      if (now - recoveredAtMs < flapHoldMs) return;
      const more = flaps > 1 ? `; it failed and recovered ${flaps - 1} more times since the last line` : '';
      flaps = 0;
      told = e.message;
      failingSinceMs = now;
      emit({ ...e, message: e.message + more });
    },
    recovered(now, e) {
      if (!down) return;
      down = false;
      if (told === null) return;
      told = null;
      flaps = 0;
      recoveredAtMs = now;
      emit({ ...e, message: `${e.message} (failing for ${Math.round((now - failingSinceMs) / 1000)} s)` });
    },
    get down() {
      return down;
    },
  };
}
