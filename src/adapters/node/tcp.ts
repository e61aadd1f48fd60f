// TCP on node:net.

import net from 'node:net';
import type { ByteStream, Closable, Peer, StreamHandlers } from '../../core/ports.ts';

export function wrap(socket: net.Socket): ByteStream {
  return {
    write: (bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    },
    close: () => socket.destroy(),
  };
}

/**
 * Settles once `socket` is ready (its `readyEvent`), with `ready(socket)`, or fails if it errs
 * first; after that its data and its close go to `handlers`. TLS shares it with a later event.
 */
export function whenConnected<S extends net.Socket, T>(socket: S, readyEvent: string, handlers: StreamHandlers, ready: (socket: S) => T): Promise<T> {
  return new Promise((resolve, reject) => {
    let connected = false;
    socket.on('data', (d: Buffer) => handlers.onData(d));
    socket.on('error', (e) => {
      if (!connected) reject(e);
    });
    socket.on('close', () => {
      if (connected) handlers.onClose();
    });
    socket.once(readyEvent, () => {
      connected = true;
      resolve(ready(socket));
    });
  });
}

export function connectTcp(address: string, port: number, handlers: StreamHandlers): Promise<ByteStream> {
  return whenConnected(net.connect({ host: address, port, noDelay: true }), 'connect', handlers, wrap);
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
