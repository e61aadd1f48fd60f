// The shape every upstream transport shares: open a socket, send once it is open, and settle
// exactly once, on the first acceptable reply, a failure, the deadline or an abort (a hedged
// query that another copy already answered), closing the socket however it ends.

import type { HoldfastError } from '../core/errors.ts';
import type { Timers } from '../core/ports.ts';
import { startDeadline, type Deadline } from './deadline.ts';
import type { StopSignal } from './stop.ts';

export type Settle = (error: Error | null, reply?: Uint8Array) => void;

export interface ExchangeCounters {
  upstream_mismatched_replies: number;
}

export function boundedExchange<S extends { close(): void }>(
  timers: Timers,
  timeoutMs: number,
  timeoutMessage: () => string,
  open: (settle: Settle) => Promise<S>,
  send: (socket: S) => void,
  openFailed: (e: Error) => HoldfastError,
  signal?: StopSignal,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let socket: S | null = null;
    let done = false;
    // Null while startDeadline runs: a signal already aborted settles inside it.
    let deadline: Deadline | null = null;
    const settle: Settle = (error, reply) => {
      if (done) return;
      done = true;
      deadline?.cancel();
      socket?.close();
      if (error) reject(error);
      else resolve(reply!);
    };
    deadline = startDeadline(timers, timeoutMs, timeoutMessage, settle, signal);
    if (done) return;
    open(settle)
      .then((s) => {
        socket = s;
        if (done) s.close();
        else send(s);
      })
      .catch((e: Error) => settle(openFailed(e)));
  });
}
