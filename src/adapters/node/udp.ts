// UDP on node:dgram.

import dgram from 'node:dgram';
import type { DatagramReceiver, UdpErrorHandler, UdpSocket } from '../../core/ports.ts';

const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

function open(address: string, port: number, onMessage: DatagramReceiver, onError: UdpErrorHandler | undefined, server: boolean): Promise<UdpSocket> {
  const v6 = address.includes(':');
  const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
  socket.on('message', (msg, rinfo) => onMessage(msg, rinfo.port, rinfo.address));
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      // After binding, a socket error (ICMP unreachable surfacing, say) must not crash us.
      socket.on('error', (e) => onError?.('receive', e));
      if (server) {
        try {
          socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
        } catch {
          // The kernel's cap (net.core.rmem_max) applies; the default still works.
        }
      }
      let closed = false;
      // One callback for every send, not a closure each: given one, dgram reports a failed
      // send there instead of as an 'error' event.
      const sent = (e: Error | null) => {
        if (e) onError?.('send', e);
      };
      resolve({
        port: socket.address().port,
        // dgram may queue the bytes (until the socket is writable, or after a lookup).
        sendsAtOnce: false,
        send: (bytes, toPort, toAddress) => {
          if (closed) return;
          try {
            // Throws at once for port 0 (ERR_SOCKET_BAD_PORT): a datagram from source port 0 must
            // not take the process down. Later failures come to the callback.
            socket.send(bytes, toPort, toAddress, sent);
          } catch (e) {
            onError?.('send', e as Error);
          }
        },
        close: () => {
          if (closed) return;
          closed = true;
          socket.close();
        },
      });
    });
  });
}

export const listenUdp = (address: string, port: number, onMessage: DatagramReceiver, onError?: UdpErrorHandler) => open(address, port, onMessage, onError, true);
