// TCP on node:net.

import type net from 'node:net';
import type { ByteStream, Closable, Peer, StreamHandlers, TcpConnection } from '../../core/ports.ts';
import { loadNet } from './builtins.ts';

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
      // `ready` may refuse the connection (a TLS check of our own): then it never opened.
      let value: T;
      try {
        value = ready(socket);
      } catch (e) {
        socket.destroy();
        reject(e);
        return;
      }
      connected = true;
      resolve(value);
    });
  });
}

export async function connectTcp(address: string, port: number, handlers: StreamHandlers): Promise<ByteStream> {
  const net = await loadNet();
  return whenConnected(net.connect({ host: address, port, noDelay: true }), 'connect', handlers, wrap);
}

/**
 * A listener's connection. Bytes are counted out in write() and back in its callback (called
 * once the kernel has them), rather than read from writableLength, whose 'drain' only follows
 * a write() that returned false: the core's bound is its own, not the stream's highWaterMark.
 */
function serverConnection(socket: net.Socket, drained: () => void): TcpConnection {
  let buffered = 0;
  return {
    write(bytes) {
      if (socket.destroyed) return;
      buffered += bytes.length;
      socket.write(bytes, () => {
        // Also called, with an error, for what a destroyed socket never sent.
        if (socket.destroyed) return;
        buffered -= bytes.length;
        if (buffered === 0) drained();
      });
    },
    close: () => {
      // Whatever is still queued goes with the socket: only a client that does not read has any.
      buffered = 0;
      socket.destroy();
    },
    get bufferedBytes() {
      return buffered;
    },
    pause: () => void socket.pause(),
    resume: () => void socket.resume(),
  };
}

export async function listenTcp(
  address: string,
  port: number,
  onConnection: (conn: TcpConnection, from: Peer) => StreamHandlers | null,
): Promise<Closable> {
  const net = await loadNet();
  // allowHalfOpen: a client that sends its queries and then FIN still gets its answers.
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    let handlers: StreamHandlers | null = null;
    const conn = serverConnection(socket, () => handlers?.onDrain?.());
    handlers = onConnection(conn, { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 });
    if (!handlers) {
      socket.destroy();
      return;
    }
    const h = handlers;
    socket.on('data', (d: Buffer) => h.onData(d));
    socket.on('end', () => (h.onEnd ? h.onEnd() : socket.end()));
    socket.on('close', () => h.onClose());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port, ipv6Only: address.includes(':') }, () => {
      server.off('error', reject);
      resolve({ close: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}
