// Rebind protection's log line, throttled: one line per name per minute at most, however often
// it is asked for, with how many answers were stripped since the last line. The counter
// (holdfast_rebind_blocked_total) counts every one; a flood of queries is never a flood of lines.

import type { Clock } from '../core/ports.ts';

export interface RebindReport {
  /** "evil.example." */
  readonly name: string;
  /** Addresses removed from the answer that caused this report. */
  readonly removed: number;
  /** Answers for this name stripped since its last report, this one included. */
  readonly answers: number;
}

/** At most one report per name in this long. */
export const REBIND_REPORT_INTERVAL_MS = 60_000;
/** Names remembered at once: past this the memory is cleared, which at worst repeats a line. */
const MAX_NAMES = 4_096;

export function rebindReporter(clock: Pick<Clock, 'now'>, report: ((r: RebindReport) => void) | undefined): ((name: string, removed: number) => void) | undefined {
  if (report === undefined) return undefined;
  const last = new Map<string, { atMs: number; answers: number }>();
  return (name, removed) => {
    const now = clock.now();
    const seen = last.get(name);
    if (seen !== undefined && now - seen.atMs < REBIND_REPORT_INTERVAL_MS) {
      seen.answers++;
      return;
    }
    if (last.size >= MAX_NAMES) last.clear();
    last.set(name, { atMs: now, answers: 0 });
    report({ name, removed, answers: (seen?.answers ?? 0) + 1 });
  };
}
