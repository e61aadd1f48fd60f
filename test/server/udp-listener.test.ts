// The UDP listener on a fake runtime: which path each datagram takes (handle.hit, then handle),
// and that a fast reply, written in a buffer the next hit overwrites, leaves intact.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientInfo } from '../../src/core/answer.ts';
import { createCounters } from '../../src/core/counters.ts';
import type { Handle, UdpHit } from '../../src/core/handle.ts';
import type { DatagramReceiver, Runtime, UdpSocket } from '../../src/core/ports.ts';
import { openUdpListener } from '../../src/server/udp-listener.ts';

interface Sent {
  bytes: Uint8Array;
  port: number;
  address: string;
}

/** A runtime whose one listener keeps each sent array as given (no copy), as dgram may. */
function fakeRuntime(sendsAtOnce: boolean) {
  let receive: DatagramReceiver = () => {};
  const sent: Sent[] = [];
  const socket: UdpSocket = {
    port: 5300,
    sendsAtOnce,
    send: (bytes, port, address) => void sent.push({ bytes, port, address }),
    close() {},
  };
  const runtime = {
    listeners: {
      listenUdp: (_address: string, _port: number, onMessage: DatagramReceiver) => {
        receive = onMessage;
        return Promise.resolve(socket);
      },
    },
  } as unknown as Runtime;
  return { runtime, sent, receive: (bytes: Uint8Array, port: number, address: string) => receive(bytes, port, address) };
}

/** A handle whose hit answers queries starting with 1 in one reused buffer, and handle() the rest. */
function fakeHandle() {
  const buffer = new Uint8Array(2);
  const full: ClientInfo[] = [];
  const hit: UdpHit = (bytes) => {
    if (bytes[0] !== 1) return undefined;
    buffer.set([1, bytes[1]]);
    return buffer;
  };
  const handle = Object.assign((bytes: Uint8Array, client: ClientInfo) => {
    full.push(client);
    return Uint8Array.from([2, bytes[1]]);
  }, { hit }) as Handle;
  return { handle, full };
}

describe('#11 - UDP listener: fresh hits through handle.hit', () => {
  for (const sendsAtOnce of [true, false]) {
    it(`sends each hit's reply intact ${sendsAtOnce ? 'from the reused buffer (the runtime is done with it on return)' : 'as a copy (the runtime may read it later)'}`, async () => {
      const rt = fakeRuntime(sendsAtOnce);
      const { handle, full } = fakeHandle();
      await openUdpListener(rt.runtime, '127.0.0.1', 5300, handle, createCounters(), () => false);
      rt.receive(Uint8Array.from([1, 7]), 40_000, '192.0.2.1');
      const first = sendsAtOnce ? [...rt.sent[0].bytes] : null;
      rt.receive(Uint8Array.from([1, 8]), 40_001, '192.0.2.2');
      rt.receive(Uint8Array.from([0, 9]), 40_002, '192.0.2.3');
      assert.deepEqual(
        rt.sent.map((s, i) => [i === 0 && first ? first : [...s.bytes], s.port, s.address]),
        [
          [[1, 7], 40_000, '192.0.2.1'],
          [[1, 8], 40_001, '192.0.2.2'],
          [[2, 9], 40_002, '192.0.2.3'],
        ],
      );
      // Only the one that was no hit made a ClientInfo and went through handle().
      assert.deepEqual(full, [{ address: '192.0.2.3', port: 40_002, transport: 'udp' }]);
    });
  }

  it('drops a datagram from port 0 before any path, hit or not', async () => {
    const rt = fakeRuntime(true);
    const { handle, full } = fakeHandle();
    const counters = createCounters();
    await openUdpListener(rt.runtime, '127.0.0.1', 5300, handle, counters, () => false);
    rt.receive(Uint8Array.from([1, 7]), 0, '192.0.2.1');
    rt.receive(Uint8Array.from([0, 7]), 0, '192.0.2.1');
    assert.deepEqual(rt.sent, []);
    assert.deepEqual(full, []);
    assert.equal(counters.dropped_source_port_zero, 2);
  });
});
