// The end of one wait for an upstream: its timeout, or the abort of a hedged copy that another
// copy already answered, whichever comes first, and the cleanup of both once it has ended some
// other way. Every transport waits like this; written once so none forgets a listener or timer.

import { ErrorCode, HoldfastError } from '../core/errors.ts';
import type { Timers } from '../core/ports.ts';
import type { StopSignal } from './stop.ts';

export interface Deadline {
  /** Stops the timer and forgets the signal: call once the wait has ended. Idempotent. */
  cancel(): void;
}

/**
 * Calls `end` once with an upstreamTimeout error after `timeoutMs` (its message from
 * `timeoutMessage`), or with an upstreamAborted error when `signal` fires (at once if it
 * already has). Returns the handle that cancels both.
 */
export function startDeadline(timers: Timers, timeoutMs: number, timeoutMessage: () => string, end: (e: HoldfastError) => void, signal?: StopSignal): Deadline {
  let ended = false;
  const once = (e: HoldfastError) => {
    if (ended) return;
    deadline.cancel();
    end(e);
  };
  const onAbort = () => once(new HoldfastError(ErrorCode.upstreamAborted, 'upstream: exchange abandoned'));
  const timer = timers.setTimeout(() => once(new HoldfastError(ErrorCode.upstreamTimeout, timeoutMessage())), timeoutMs);
  const deadline: Deadline = {
    cancel() {
      if (ended) return;
      ended = true;
      timers.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort);
  return deadline;
}
