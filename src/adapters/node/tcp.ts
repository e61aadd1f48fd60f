// TCP on node:net.

import net from 'node:net';
import type { ByteStream, Closable, Peer, StreamHandlers } from '../../core/ports.ts';

function wrap(socket: net.Socket): ByteStream {
  return {
    write: (bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    },
    close: () => socket.destroy(),
  };
}

export function connectTcp(address: string, port: number, handlers: StreamHandlers): Promise<ByteStream> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port, noDelay: true });
    let connected = false;
    socket.on('data', (d: Buffer) => handlers.onData(d));
    socket.on('error', (e) => {
      if (!connected) reject(e);
    });
    socket.on('close', () => {
      if (connected) handlers.onClose();
    });
    socket.once('connect', () => {
      connected = true;
      resolve(wrap(socket));
    });
  });
}

export function listenTcp(
  address: string,
  port: number,
  onConnection: (conn: ByteStream, from: Peer) => StreamHandlers | null,
): Promise<Closable> {
  // allowHalfOpen: a client that sends its queries and then FIN still gets its answers.
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    const handlers = onConnection(wrap(socket), { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 });
    if (!handlers) {
      socket.destroy();
      return;
    }
    socket.on('data', (d: Buffer) => handlers.onData(d));
    socket.on('end', () => (handlers.onEnd ? handlers.onEnd() : socket.end()));
    socket.on('close', () => handlers.onClose());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port, ipv6Only: address.includes(':') }, () => {
      server.off('error', reject);
      resolve({ close: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}
