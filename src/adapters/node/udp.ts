// UDP on node:dgram.

import dgram from 'node:dgram';
import type { UdpReceiver, UdpSocket } from '../../core/ports.ts';

const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

function open(address: string, port: number, onMessage: UdpReceiver, server: boolean): Promise<UdpSocket> {
  const v6 = address.includes(':');
  const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
  socket.on('message', (msg, rinfo) => onMessage(msg, rinfo));
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      // After binding, a socket error (ICMP unreachable surfacing, say) must not crash us.
      socket.on('error', () => {});
      if (server) {
        try {
          socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
        } catch {
          // The kernel's cap (net.core.rmem_max) applies; the default still works.
        }
      }
      let closed = false;
      resolve({
        port: socket.address().port,
        send: (bytes, toPort, toAddress) => socket.send(bytes, toPort, toAddress),
        close: () => {
          if (closed) return;
          closed = true;
          socket.close();
        },
      });
    });
  });
}

export const listenUdp = (address: string, port: number, onMessage: UdpReceiver) => open(address, port, onMessage, true);
