// How a copy of a query is called off: hedged-exchange.ts stops the copies still out once one
// has answered, and a transport ends the wait of a stopped copy at once. An AbortController did
// this at about 5% of a miss's CPU on Bun (the controller, then the listener added and removed
// per copy: bun --cpu-prof of misses, #11), though a copy is almost never stopped: its one
// listener is its transport's. AbortSignal has the same shape, so a caller holding one (a test,
// a runtime's API) passes it as it is.

export interface StopSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** A StopSignal that is also its own controller: `abort()` calls each listener once. */
export class Stop implements StopSignal {
  aborted = false;
  /** The one listener a copy has at a time; more (none in practice) wait in `more`. */
  private first: (() => void) | null = null;
  private more: Array<() => void> | null = null;

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    if (this.first === null) this.first = listener;
    else (this.more ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    if (this.first === listener) this.first = null;
    else if (this.more !== null) {
      const i = this.more.indexOf(listener);
      if (i >= 0) this.more.splice(i, 1);
    }
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const first = this.first;
    const more = this.more;
    this.first = null;
    this.more = null;
    first?.();
    if (more !== null) for (const listener of more) listener();
  }
}
