// A UDP socket for one upstream, on Deno.listenDatagram (needs --unstable-net). Deno cannot
// connect a UDP socket, and its sockets never report ICMP errors, so a refusing upstream is
// only silent here: the core's timeouts and breaker find it, later than on Node and Bun.

import type { UdpClient, UdpClientHandlers } from '../../core/ports.ts';

export function connectUdp(address: string, port: number, handlers: UdpClientHandlers): Promise<UdpClient> {
  try {
    const conn = Deno.listenDatagram({ hostname: address.includes(':') ? '::' : '0.0.0.0', port: 0, transport: 'udp' });
    let closed = false;
    (async () => {
      try {
        for (;;) {
          const [data, from] = await conn.receive();
          const peer = from as Deno.NetAddr;
          handlers.onMessage(data, { address: peer.hostname, port: peer.port });
        }
      } catch {
        // receive() rejects once the socket is closed: the loop's normal end.
      }
    })();
    return Promise.resolve({
      send(bytes) {
        if (closed) return;
        conn.send(bytes, { transport: 'udp', hostname: address, port }).catch((e: unknown) => {
          if (!closed) handlers.onError(e instanceof Error ? e : new Error(String(e)));
        });
      },
      close() {
        if (closed) return;
        closed = true;
        conn.close();
      },
    });
  } catch (e) {
    return Promise.reject(e);
  }
}
