// One timer for many deadlines: the pool's hedged exchanges each wait for their next copy's
// moment, and the UDP pool's queries for their deadline; a setTimeout and clearTimeout per
// exchange were 2% of a miss's CPU on Bun (#11).
// The list keeps one timer, set for the earliest moment due; when it fires it calls every item
// then due and is set again for the next. An item called off leaves the timer alone, so a busy
// pool pays for a timer per wait's length, not per exchange; each item is still called at its
// own moment, as a timer of its own would have called it.
//
// Moments are on the monotonic clock when the runtime has one: a wall clock stepped back by an
// hour would otherwise hold every hedge for the hour.

import type { Clock, Timers } from '../core/ports.ts';

/** Something the list calls once at its moment. The list owns the two fields. */
export interface DueItem {
  /** When it is due, in the list's milliseconds; Infinity when not listed. */
  dueAtMs: number;
  /** Its place in the list, -1 when not listed. */
  dueIndex: number;
  due(): void;
}

export class DueList {
  private readonly items: DueItem[] = [];
  private readonly timers: Timers;
  private readonly now: () => number;
  private timer: unknown = null;
  /** When the timer fires; Infinity when it is not set. */
  private armedAtMs = Infinity;

  constructor(clock: Clock, timers: Timers) {
    this.timers = timers;
    this.now = clock.monotonicMs ? () => clock.monotonicMs!() : () => clock.now();
  }

  /** Calls `item.due()` in `delayMs` (instead of when it was due before, if it was listed). */
  schedule(item: DueItem, delayMs: number): void {
    const atMs = this.now() + delayMs;
    if (item.dueIndex < 0) {
      item.dueIndex = this.items.length;
      this.items.push(item);
    }
    item.dueAtMs = atMs;
    if (atMs < this.armedAtMs) this.arm(atMs, delayMs);
  }

  /** Takes `item` off the list: it is not called. Does nothing if it is not listed. */
  cancel(item: DueItem): void {
    const i = item.dueIndex;
    if (i < 0) return;
    this.removeAt(i);
    // Nothing left to wait for: no timer outlives the last item (nor holds a closing process).
    if (this.items.length === 0) this.disarm();
  }

  /** Items listed now. */
  get size(): number {
    return this.items.length;
  }

  private removeAt(i: number): void {
    const items = this.items;
    const item = items[i];
    const last = items.pop()!;
    if (last !== item) {
      items[i] = last;
      last.dueIndex = i;
    }
    item.dueIndex = -1;
    item.dueAtMs = Infinity;
  }

  private arm(atMs: number, delayMs: number): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.armedAtMs = atMs;
    this.timer = this.timers.setTimeout(() => this.fire(), Math.max(0, delayMs));
  }

  private disarm(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.armedAtMs = Infinity;
  }

  private fire(): void {
    this.timer = null;
    this.armedAtMs = Infinity;
    const now = this.now();
    const items = this.items;
    let next = Infinity;
    let due: DueItem[] | null = null;
    // Taken off first, then called: a call may schedule or cancel others.
    for (let i = 0; i < items.length; ) {
      const item = items[i];
      if (item.dueAtMs <= now) {
        this.removeAt(i);
        (due ??= []).push(item);
        continue;
      }
      if (item.dueAtMs < next) next = item.dueAtMs;
      i++;
    }
    // A timer that fired a little early (runtimes round) finds its item not yet due: set again.
    if (next !== Infinity) this.arm(next, next - now);
    if (due !== null) for (const item of due) item.due();
  }
}
