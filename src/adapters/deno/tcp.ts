// TCP on Deno.listen and Deno.connect. Deno's write() may take only part of the bytes, so
// writes are chained and looped until everything is sent.

import type { ByteStream, Closable, Peer, StreamHandlers, TcpConnection } from '../../core/ports.ts';
import { explainBindError } from './wildcard.ts';

const READ_BYTES = 16 * 1024;

/** Holds the read loop while the core has paused it: a promise resolved by resume(). */
interface ReadGate {
  paused: Promise<void> | null;
  open: (() => void) | null;
}

export function serve(conn: Deno.Conn, handlers: StreamHandlers, gate?: ReadGate): void {
  (async () => {
    const buf = new Uint8Array(READ_BYTES);
    try {
      for (;;) {
        if (gate?.paused) await gate.paused;
        const n = await conn.read(buf);
        if (n === null) break;
        handlers.onData(buf.slice(0, n));
      }
    } catch (e) {
      handlers.onClose(e as Error);
      return;
    }
    // FIN: the peer may still read what we write, if the handlers want to answer first.
    if (handlers.onEnd) handlers.onEnd();
    else handlers.onClose();
  })();
}

/** How long close() waits for queued writes to reach a peer that is slow to read. */
const CLOSE_FLUSH_MS = 1_000;

export function wrap(conn: Deno.Conn): ByteStream {
  return serverConnection(conn, { paused: null, open: null }, () => {});
}

function serverConnection(conn: Deno.Conn, gate: ReadGate, drained: () => void): TcpConnection {
  let closed = false;
  // Bytes written and not yet taken by conn.write(), for the core's bound.
  let buffered = 0;
  let gone = false;
  let chain = Promise.resolve();
  const shut = () => {
    if (gone) return;
    gone = true;
    try {
      conn.close();
    } catch {
      // Already closed by the peer.
    }
  };
  return {
    write(bytes) {
      if (closed) return;
      buffered += bytes.length;
      chain = chain
        .then(async () => {
          let sent = 0;
          while (sent < bytes.length && !gone) {
            const n = await conn.write(bytes.subarray(sent));
            sent += n;
            buffered -= n;
          }
          if (buffered === 0 && !closed) drained();
        })
        .catch(() => {});
    },
    close() {
      if (closed) return;
      closed = true;
      // Writes run asynchronously: a reply written just before close() must still go out.
      const timer = setTimeout(shut, CLOSE_FLUSH_MS);
      chain.then(() => {
        clearTimeout(timer);
        shut();
      });
      // A paused read loop must see the close, not wait for a resume() that never comes.
      gate.open?.();
    },
    get bufferedBytes() {
      return buffered;
    },
    pause() {
      if (gate.paused) return;
      gate.paused = new Promise((resolve) => (gate.open = resolve));
    },
    resume() {
      const open = gate.open;
      gate.paused = null;
      gate.open = null;
      open?.();
    },
  };
}

export async function connectTcp(address: string, port: number, handlers: StreamHandlers): Promise<ByteStream> {
  const conn = await Deno.connect({ hostname: address, port, transport: 'tcp' });
  conn.setNoDelay(true);
  serve(conn, handlers);
  return wrap(conn);
}

export function listenTcp(address: string, port: number, onConnection: (conn: TcpConnection, from: Peer) => StreamHandlers | null): Promise<Closable> {
  try {
    const listener = Deno.listen({ hostname: address, port, transport: 'tcp' });
    (async () => {
      try {
        for await (const conn of listener) {
          conn.setNoDelay(true);
          const remote = conn.remoteAddr as Deno.NetAddr;
          const gate: ReadGate = { paused: null, open: null };
          let handlers: StreamHandlers | null = null;
          const stream = serverConnection(conn, gate, () => handlers?.onDrain?.());
          handlers = onConnection(stream, { address: remote.hostname, port: remote.port });
          if (!handlers) stream.close();
          else serve(conn, handlers, gate);
        }
      } catch {
        // The listener was closed.
      }
    })();
    return Promise.resolve({
      close: () => {
        try {
          listener.close();
        } catch {
          // Already closed.
        }
      },
    });
  } catch (e) {
    // Deno.listen has no IPv6-only option either (wildcard.ts).
    return Promise.reject(explainBindError(address, e));
  }
}
