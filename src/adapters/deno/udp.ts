// UDP on Deno.listenDatagram (needs --unstable-net).
// It has no IPv6-only option: wildcard.ts says what that means for `::`.

import type { DatagramReceiver, UdpErrorHandler, UdpSocket } from '../../core/ports.ts';
import { explainBindError } from './wildcard.ts';

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

function open(address: string, port: number, onMessage: DatagramReceiver, onError?: UdpErrorHandler): Promise<UdpSocket> {
  try {
    const conn = Deno.listenDatagram({ hostname: address, port, transport: 'udp' });
    let closed = false;
    const sendFailed = (e: unknown) => onError?.('send', asError(e));
    (async () => {
      while (!closed) {
        let received: [Uint8Array, Deno.Addr];
        try {
          received = await conn.receive();
        } catch (e) {
          // receive() rejects once the socket is closed (Interrupted if it was waiting, then
          // BadResource): the loop's normal end. Any other error is counted and the socket keeps
          // listening, after a turn of the event loop so an error that repeats cannot spin it.
          if (closed || e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) return;
          onError?.('receive', asError(e));
          await new Promise((r) => setTimeout(r, 0));
          continue;
        }
        const peer = received[1] as Deno.NetAddr;
        onMessage(received[0], peer.port, peer.hostname);
      }
    })();
    return Promise.resolve({
      port: (conn.addr as Deno.NetAddr).port,
      // send() is asynchronous: the bytes are read after it returns.
      sendsAtOnce: false,
      send: (bytes, toPort, toAddress) => {
        if (closed) return;
        try {
          // Rejects (EINVAL) for port 0 rather than throwing; caught both ways all the same.
          conn.send(bytes, { transport: 'udp', hostname: toAddress, port: toPort }).catch(sendFailed);
        } catch (e) {
          sendFailed(e);
        }
      },
      close: () => {
        if (closed) return;
        closed = true;
        conn.close();
      },
    });
  } catch (e) {
    return Promise.reject(explainBindError(address, e));
  }
}

export const listenUdp = open;
