// A UDP socket connected to one upstream, on Bun.udpSocket. Bun reports an ICMP port
// unreachable as an ECONNREFUSED to the socket's error handler; without one it prints the error.

import type { UdpClient, UdpClientHandlers } from '../../core/ports.ts';
import { bun } from './bun-api.ts';

export async function connectUdp(address: string, port: number, handlers: UdpClientHandlers): Promise<UdpClient> {
  let closed = false;
  const s = await bun.udpSocket({
    hostname: address.includes(':') ? '::' : '0.0.0.0',
    port: 0,
    connect: { hostname: address, port },
    socket: {
      data: (_s, data, fromPort, fromAddress) => handlers.onMessage(data, { address: fromAddress, port: fromPort }),
      // Bun calls it with the socket as `this` and the error as the only argument.
      error: (e) => {
        if (!closed) handlers.onError(e instanceof Error ? e : new Error(String(e)));
      },
    },
  });
  return {
    send(bytes) {
      if (closed) return;
      try {
        s.send(bytes);
      } catch (e) {
        handlers.onError(e instanceof Error ? e : new Error(String(e)));
      }
    },
    close() {
      if (closed) return;
      closed = true;
      s.close();
    },
  };
}
