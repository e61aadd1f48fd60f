// UDP on Deno.listenDatagram (needs --unstable-net).

import type { UdpReceiver, UdpSocket } from '../../core/ports.ts';

function open(address: string, port: number, onMessage: UdpReceiver): Promise<UdpSocket> {
  try {
    const conn = Deno.listenDatagram({ hostname: address, port, transport: 'udp' });
    let closed = false;
    (async () => {
      try {
        for (;;) {
          const [data, from] = await conn.receive();
          const peer = from as Deno.NetAddr;
          onMessage(data, { address: peer.hostname, port: peer.port });
        }
      } catch {
        // receive() rejects once the socket is closed: the loop's normal end.
      }
    })();
    return Promise.resolve({
      port: (conn.addr as Deno.NetAddr).port,
      send: (bytes, toPort, toAddress) => {
        if (closed) return;
        conn.send(bytes, { transport: 'udp', hostname: toAddress, port: toPort }).catch(() => {});
      },
      close: () => {
        if (closed) return;
        closed = true;
        conn.close();
      },
    });
  } catch (e) {
    return Promise.reject(e);
  }
}

export const listenUdp = open;
