// TCP on Bun.listen and Bun.connect. Bun's write() may take only part of the bytes; the rest
// waits in our queue for the socket's drain event, counted so that the core can stop reading
// from a client that does not read its answers.

import type { ByteStream, Closable, Peer, StreamHandlers, TcpConnection } from '../../core/ports.ts';
import { bun, type BunSocket, type BunSocketHandlers } from './bun-api.ts';

interface Conn {
  handlers: StreamHandlers | null;
  queue: Uint8Array[];
  /** Bytes in `queue`. */
  queued: number;
  closed: boolean;
}

function flush(s: BunSocket<Conn>): void {
  const q = s.data.queue;
  while (q.length > 0) {
    const head = q[0];
    const n = Math.max(0, s.write(head));
    s.data.queued -= Math.min(n, head.length);
    if (n < head.length) {
      q[0] = head.subarray(n);
      return;
    }
    q.shift();
  }
}

function wrap(s: BunSocket<Conn>): TcpConnection {
  return {
    write(bytes) {
      if (s.data.closed) return;
      s.data.queue.push(bytes);
      s.data.queued += bytes.length;
      if (s.data.queue.length === 1) flush(s);
    },
    close() {
      if (s.data.closed) return;
      s.data.closed = true;
      // What the client never read is dropped with the connection.
      s.data.queue = [];
      s.data.queued = 0;
      s.end();
    },
    get bufferedBytes() {
      return s.data.queued;
    },
    pause: () => s.pause?.(),
    resume: () => s.resume?.(),
  };
}

function handlers(onOpen: (s: BunSocket<Conn>) => void): BunSocketHandlers<Conn> {
  return {
    open: onOpen,
    data: (s, data) => s.data.handlers?.onData(new Uint8Array(data)),
    drain: (s) => {
      flush(s);
      if (s.data.queued === 0 && !s.data.closed) s.data.handlers?.onDrain?.();
    },
    // Only listening sockets allow half-open; a connecting one closes on FIN and gets close().
    end: (s) => s.data.handlers?.onEnd?.(),
    close: (s, error) => {
      s.data.closed = true;
      s.data.handlers?.onClose(error);
    },
    error: () => {},
  };
}

export async function connectTcp(address: string, port: number, h: StreamHandlers): Promise<ByteStream> {
  const s = await bun.connect<Conn>({
    hostname: address,
    port,
    socket: handlers((s) => {
      s.data = { handlers: h, queue: [], queued: 0, closed: false };
    }),
  });
  s.setNoDelay?.(true);
  return wrap(s);
}

export async function listenTcp(address: string, port: number, onConnection: (conn: TcpConnection, from: Peer) => StreamHandlers | null): Promise<Closable> {
  const server = bun.listen<Conn>({
    hostname: address,
    port,
    // A client that sends its queries and then FIN still gets its answers.
    allowHalfOpen: true,
    // So that `0.0.0.0` and `::` can both be bound on one port (a `::` socket on Linux takes
    // IPv4 too unless told not to).
    ipv6Only: address.includes(':'),
    socket: handlers((s) => {
      s.data = { handlers: null, queue: [], queued: 0, closed: false };
      s.setNoDelay?.(true);
      const h = onConnection(wrap(s), { address: s.remoteAddress, port: s.remotePort ?? 0 });
      if (!h) {
        s.data.closed = true;
        s.end();
        return;
      }
      s.data.handlers = h;
    }),
  });
  return { close: () => server.stop(true) };
}
