// The timer ports of the runtime running this file, on its real event loop: setImmediate is
// what separates the slices of a snapshot load, so a chain of them must let sockets and timers
// have their turn (a MessageChannel does not on Bun: its messages starve the timers).

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBunRuntime } from '../../src/adapters/bun/runtime.ts';
import { createDenoRuntime } from '../../src/adapters/deno/runtime.ts';
import { createNodeRuntime } from '../../src/adapters/node/runtime.ts';
import type { Runtime, UdpSocket } from '../../src/core/ports.ts';
import { runtimeName } from '../helpers/runtime.ts';

const runtime: Runtime = runtimeName === 'deno' ? createDenoRuntime([]) : runtimeName === 'bun' ? createBunRuntime([]) : createNodeRuntime([]);
const { timers } = runtime;

/** Busy for `ms` by the clock: a slice of work that never gives the loop a turn. */
function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

describe(`timer ports (${runtimeName})`, () => {
  const open: UdpSocket[] = [];
  after(() => {
    for (const s of open) s.close();
  });

  it('setImmediate runs the function later, never inside the call', async () => {
    const order: string[] = [];
    const ran = new Promise<void>((resolve) =>
      timers.setImmediate(() => {
        order.push('immediate');
        resolve();
      }),
    );
    order.push('after the call');
    await ran;
    assert.deepEqual(order, ['after the call', 'immediate']);
  });

  it('#11 - a chain of setImmediate turns lets a datagram and a due timer in between', async () => {
    const received: number[] = [];
    const listener = await runtime.listeners.listenUdp('127.0.0.1', 0, (bytes) => received.push(bytes[0]));
    open.push(listener);
    const sender = await runtime.listeners.listenUdp('127.0.0.1', 0, () => {});
    open.push(sender);
    let timerFired = false;
    timers.setTimeout(() => {
      timerFired = true;
    }, 1);
    sender.send(Uint8Array.of(7), listener.port, '127.0.0.1');
    // Up to 500 turns of 2 ms of work each: a second of work, long past when both are due.
    const turns = await new Promise<number>((resolve) => {
      let n = 0;
      const turn = () => {
        busy(2);
        n++;
        if ((timerFired && received.length > 0) || n === 500) resolve(n);
        else timers.setImmediate(turn);
      };
      timers.setImmediate(turn);
    });
    assert.ok(timerFired, `the timer waited through all ${turns} turns`);
    assert.deepEqual(received, [7], `the datagram waited through all ${turns} turns`);
    assert.ok(turns < 500);
  });
});
