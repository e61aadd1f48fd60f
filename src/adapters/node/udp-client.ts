// A UDP socket connected to one upstream, on node:dgram. Connected, because only then does
// the kernel report an ICMP port unreachable (as ECONNREFUSED on the next receive), which the
// core takes as the upstream's answer instead of waiting for a reply that will not come.

import dgram from 'node:dgram';
import type { UdpClient, UdpClientHandlers } from '../../core/ports.ts';

export function connectUdp(address: string, port: number, handlers: UdpClientHandlers): Promise<UdpClient> {
  const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', (msg, rinfo) => handlers.onMessage(msg, rinfo));
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    socket.close();
  };
  return new Promise((resolve, reject) => {
    const failed = (e: Error) => {
      close();
      reject(e);
    };
    socket.once('error', failed);
    // connect() binds to a random port on the wildcard address first.
    socket.connect(port, address, () => {
      socket.off('error', failed);
      socket.on('error', (e) => handlers.onError(e));
      resolve({
        send(bytes) {
          if (closed) return;
          // A send error (no route) arrives here, never as a throw into the query path.
          socket.send(bytes, (e) => {
            if (e && !closed) handlers.onError(e);
          });
        },
        close,
      });
    });
  });
}
