// Gathers relay items for a short window and hands them on together, cut so that no batch
// passes the relay's item count or request size. The first item of a batch starts the window;
// a batch that fills up goes at once, without waiting for the window to end.

import type { TimerHandle, Timers } from '../../core/ports.ts';

export interface BatchLimits {
  readonly maxItems: number;
  /** Request body bytes (before gzip), envelope included. */
  readonly maxBytes: number;
}

export interface BatcherOptions {
  /** How long the first item of a batch waits for company. */
  readonly windowMs: number;
  /** Bytes of a request around its items. */
  readonly envelopeBytes: number;
}

export interface Batcher<T> {
  /** Adds an item that takes `bytes` of the request body. */
  add(item: T, bytes: number): void;
  /** Takes an item back before its batch goes; false if it went already. */
  remove(item: T): boolean;
  /** Limits learnt later (the relay's /v1/info); they apply from the next item. */
  setLimits(limits: BatchLimits): void;
  readonly limits: BatchLimits;
  readonly pending: number;
}

export function createBatcher<T>(options: BatcherOptions, initial: BatchLimits, timers: Timers, flush: (items: T[]) => void): Batcher<T> {
  let limits = initial;
  let items: T[] = [];
  let sizes: number[] = [];
  let bytes = options.envelopeBytes;
  let timer: TimerHandle | null = null;

  const go = () => {
    if (timer !== null) {
      timers.clearTimeout(timer);
      timer = null;
    }
    if (items.length === 0) return;
    const batch = items;
    items = [];
    sizes = [];
    bytes = options.envelopeBytes;
    flush(batch);
  };

  return {
    add(item, itemBytes) {
      if (items.length > 0 && (items.length + 1 > limits.maxItems || bytes + itemBytes > limits.maxBytes)) go();
      items.push(item);
      sizes.push(itemBytes);
      bytes += itemBytes;
      if (items.length >= limits.maxItems) go();
      else if (timer === null) timer = timers.setTimeout(go, options.windowMs);
    },
    remove(item) {
      const i = items.indexOf(item);
      if (i < 0) return false;
      items.splice(i, 1);
      bytes -= sizes.splice(i, 1)[0];
      if (items.length === 0 && timer !== null) {
        timers.clearTimeout(timer);
        timer = null;
      }
      return true;
    },
    setLimits(next) {
      limits = next;
    },
    get limits() {
      return limits;
    },
    get pending() {
      return items.length;
    },
  };
}
