// UDP on Bun.udpSocket.

import type { DatagramReceiver, UdpErrorHandler, UdpSocket } from '../../core/ports.ts';
import { bun } from './bun-api.ts';

/**
 * Bun.udpSocket's flag for IPV6_V6ONLY. Not in Bun's documented options (1.4): it is what Bun's
 * own node:dgram passes for `ipv6Only: true` (SOCKET_IPV6_ONLY in its source). Without it a
 * `::` socket on Linux also takes IPv4, and `0.0.0.0` on the same port fails with EADDRINUSE.
 * test/adapters/udp.test.ts binds both wildcards, so a Bun that drops the flag fails there.
 */
const SOCKET_IPV6_ONLY = 8;

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

async function open(address: string, port: number, onMessage: DatagramReceiver, onError?: UdpErrorHandler): Promise<UdpSocket> {
  const report = (op: 'send' | 'receive', e: unknown) => onError?.(op, asError(e));
  const s = await bun.udpSocket({
    hostname: address,
    port,
    flags: address.includes(':') ? SOCKET_IPV6_ONLY : 0,
    socket: {
      data: (_s, data, fromPort, fromAddress) => onMessage(data, fromPort, fromAddress),
      // Bun turns each ICMP error the kernel queues (port unreachable from an upstream that
      // refuses, or from a client that has gone) into a call here; with no handler it prints a
      // multi-line dump per packet. Bun 1.4 passes the error alone, not (socket, error).
      error: (a: unknown, b?: unknown) => report('receive', b ?? a),
    },
  });
  let closed = false;
  return {
    port: s.port,
    // Bun's send() hands the bytes to sendmmsg before it returns, and drops what the kernel
    // will not take then: it never keeps them.
    sendsAtOnce: true,
    send: (bytes, toPort, toAddress) => {
      if (closed) return;
      try {
        // Throws for port 0 (ERR_INVALID_ARG_TYPE) and may throw a pending ICMP error (ECONNREFUSED).
        s.send(bytes, toPort, toAddress);
      } catch (e) {
        report('send', e);
      }
    },
    close: () => {
      if (closed) return;
      closed = true;
      s.close();
    },
  };
}

export const listenUdp = open;
