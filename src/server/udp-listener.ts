// A DNS listener's UDP side: each datagram through the handle, each reply back to its sender.
// Socket errors (ICMP from a client that has gone) are counted, never logged per packet: on a
// lossy link clients give up all the time.

import type { Counters } from '../core/counters.ts';
import type { Handle } from '../core/handle.ts';
import type { Runtime, UdpErrorHandler, UdpSocket } from '../core/ports.ts';

/** Counts a socket error by what failed: the listeners' and the upstream sockets' alike. */
export function udpErrorCounter(counters: Counters): UdpErrorHandler {
  return (op) => {
    if (op === 'send') counters.socket_errors_udp_send++;
    else counters.socket_errors_udp_receive++;
  };
}

/**
 * The runtime with the upstream sockets' errors counted too; the transport still gets each
 * error (a refusal is an answer: src/upstreams/udp.ts).
 */
export function withUdpErrorsCounted(runtime: Runtime, count: UdpErrorHandler): Runtime {
  const net = runtime.net;
  return {
    ...runtime,
    net: {
      ...net,
      connectUdp: (address, port, handlers) =>
        net.connectUdp(address, port, {
          onMessage: handlers.onMessage,
          onError: (e) => {
            count('receive', e);
            handlers.onError(e);
          },
        }),
    },
  };
}

export function openUdpListener(
  runtime: Runtime,
  address: string,
  port: number,
  handle: Handle,
  counters: Counters,
  stopping: () => boolean,
): Promise<UdpSocket> {
  let socket: UdpSocket | null = null;
  const pending: Array<[Uint8Array, number, string]> = [];
  const send = (s: UdpSocket, reply: Uint8Array, toPort: number, toAddress: string) => {
    // Adapters never throw from send (core/ports.ts); should one, the error is counted here
    // rather than thrown into a receive callback or left as an unhandled rejection.
    try {
      s.send(reply, toPort, toAddress);
    } catch {
      counters.socket_errors_udp_send++;
    }
  };
  const deliver = (reply: Uint8Array | null, toPort: number, toAddress: string) => {
    if (!reply) return;
    if (socket) send(socket, reply, toPort, toAddress);
    else pending.push([reply, toPort, toAddress]);
  };
  const deliverLater = (reply: Promise<Uint8Array | null>, toPort: number, toAddress: string) => {
    reply.then((r) => deliver(r, toPort, toAddress));
  };
  const hit = handle.hit;
  /** A fresh cache hit's reply, in handle.hit's buffer: sent now, or copied when it cannot be. */
  const deliverHit = (reply: Uint8Array | null, toPort: number, toAddress: string) => {
    if (!reply) return;
    if (socket?.sendsAtOnce) send(socket, reply, toPort, toAddress);
    else deliver(reply.slice(), toPort, toAddress);
  };
  return runtime.listeners
    .listenUdp(
      address,
      port,
      (bytes, fromPort, fromAddress) => {
        if (stopping()) return;
        // No reply can reach port 0 (and Node's dgram throws on sending to it): such a datagram
        // is forged or broken, so it costs nothing more, not even an upstream query.
        if (fromPort === 0) {
          counters.dropped_source_port_zero++;
          return;
        }
        // A fresh cache hit: answered without a ClientInfo, a promise or a reply of its own (#11).
        if (hit !== undefined) {
          const answered = hit(bytes, fromAddress);
          if (answered !== undefined) {
            deliverHit(answered, fromPort, fromAddress);
            return;
          }
        }
        const reply = handle(bytes, { address: fromAddress, port: fromPort, transport: 'udp' });
        // A cache hit comes back synchronously: no closure or promise for it (nor a scope
        // object: the closure is made in deliverLater, not here).
        if (reply instanceof Promise) deliverLater(reply, fromPort, fromAddress);
        else deliver(reply, fromPort, fromAddress);
      },
      udpErrorCounter(counters),
    )
    .then((s) => {
      socket = s;
      for (const [reply, toPort, toAddress] of pending) send(s, reply, toPort, toAddress);
      return s;
    });
}
