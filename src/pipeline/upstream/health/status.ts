// What the log says about one upstream: "failing" (with the reason) when its breaker opens,
// "recovered" when it closes again; one line per change, never per query. The breaker is the
// hysteresis: it opens only after `breakerFailures` failed copies in a row (silences only when
// nothing at all was heard lately, so a lossy link is not called failing) and closes on a reply.
//
// A flapping upstream would still give two lines per flap, so, like the once-a-minute warnings
// of mail and DNS daemons, a "failing" that comes within `flapHoldMs` of the last "recovered"
// is held back: if the upstream answers again before then, nothing is logged at all; if it is
// still failing after it, the line is logged at its next failure, counting the flaps meanwhile.
// "recovered" is only ever logged after a logged "failing", so at most two lines per upstream
// come out per `flapHoldMs`.

import type { ErrorCode } from '../../../core/errors.ts';

export interface StatusEvent {
  readonly kind: 'failing' | 'recovered';
  readonly code: ErrorCode | null;
  readonly message: string;
}

export interface UpstreamStatus {
  /** A failure left the breaker open (just opened, or again after a failed probe); `reason` says why. */
  opened(nowMs: number, code: ErrorCode, reason: string): void;
  /** The breaker closed: the upstream answered. */
  closed(nowMs: number): void;
  /** Is the log's last word on it "failing"? */
  readonly failing: boolean;
}

/** How long after a "recovered" line a new "failing" waits to be sure it is not a flap. */
export const FLAP_HOLD_MS = 60_000;

export function createUpstreamStatus(label: string, emit: (e: StatusEvent) => void, flapHoldMs = FLAP_HOLD_MS): UpstreamStatus {
  /** The breaker is open, as far as we were told. */
  let down = false;
  /** The log's last word on it is "failing". */
  let told = false;
  let failingSinceMs = 0;
  let recoveredAtMs = -Infinity;
  /** Times it went down since the last line. */
  let flaps = 0;

  return {
    opened(now, code, reason) {
      if (!down) {
        down = true;
        flaps++;
      }
      if (told || now - recoveredAtMs < flapHoldMs) return;
      const more = flaps > 1 ? `; it failed and recovered ${flaps - 1} more times since the last line` : '';
      flaps = 0;
      told = true;
      failingSinceMs = now;
      emit({ kind: 'failing', code, message: `upstream: ${label} is failing (${reason}); it is asked again after a cooldown${more}` });
    },
    closed(now) {
      if (!down) return;
      down = false;
      if (!told) return;
      told = false;
      flaps = 0;
      recoveredAtMs = now;
      const seconds = Math.round((now - failingSinceMs) / 1000);
      emit({ kind: 'recovered', code: null, message: `upstream: ${label} recovered: it answers again after ${seconds} s` });
    },
    get failing() {
      return told;
    },
  };
}
