// A clock and timers that move only when a test says so: TTL and timer tests stay exact.

import type { Clock, Timers } from '../../src/core/ports.ts';

export interface FakeTime extends Clock, Timers {
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void;
  readonly pendingTimers: number;
}

export function createFakeTime(startMs = 1_700_000_000_000): FakeTime {
  let now = startMs;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: now + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout(h) {
      timers.delete(h as number);
    },
    // No time passes: the work goes on as soon as what is running now lets it, in order.
    setImmediate(fn) {
      queueMicrotask(fn);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | null = null;
        for (const entry of timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
        if (!next) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
      }
      now = end;
    },
    get pendingTimers() {
      return timers.size;
    },
  };
}
