// Answers still on their way (misses), so that a stop can let them finish before the sockets
// close. A hit completes synchronously and is never counted.

import type { ClientInfo } from '../core/answer.ts';
import type { Handle } from '../core/handle.ts';
import type { Timers } from '../core/ports.ts';

export interface Drain {
  /** `handle`, counting each answer that comes back as a promise until it settles. */
  readonly handle: Handle;
  /** Resolves once no answer is in flight, or after `boundMs`, whichever is first. */
  settle(boundMs: number): Promise<void>;
}

export function createDrain(handle: Handle, timers: Timers): Drain {
  let inFlight = 0;
  let onDrained: (() => void) | null = null;
  const answered = () => {
    if (--inFlight === 0) onDrained?.();
  };
  const counted = (bytes: Uint8Array, client: ClientInfo) => {
    const reply = handle(bytes, client);
    if (reply instanceof Promise) {
      inFlight++;
      reply.then(answered, answered);
    }
    return reply;
  };
  return {
    // A fresh cache hit (handle.hit) is answered at once: nothing to wait for.
    handle: handle.hit ? Object.assign(counted, { hit: handle.hit }) : counted,
    async settle(boundMs) {
      if (inFlight === 0) return;
      await new Promise<void>((resolve) => {
        const timer = timers.setTimeout(resolve, boundMs);
        onDrained = () => {
          timers.clearTimeout(timer);
          resolve();
        };
      });
      // The last replies were handed to their sockets in this same turn; a send is queued,
      // not done (Node's dgram finishes it on a later tick), so let them leave before closing.
      await new Promise<void>((resolve) => timers.setTimeout(resolve, 20));
    },
  };
}
