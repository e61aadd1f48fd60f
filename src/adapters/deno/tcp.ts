// TCP on Deno.listen and Deno.connect. Deno's write() may take only part of the bytes, so
// writes are chained and looped until everything is sent.

import type { ByteStream, Closable, Peer, StreamHandlers } from '../../core/ports.ts';
import { explainBindError } from './wildcard.ts';

const READ_BYTES = 16 * 1024;

export function serve(conn: Deno.Conn, handlers: StreamHandlers): void {
  (async () => {
    const buf = new Uint8Array(READ_BYTES);
    try {
      for (;;) {
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
  let closed = false;
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
      chain = chain.then(async () => {
        let sent = 0;
        while (sent < bytes.length && !gone) sent += await conn.write(bytes.subarray(sent));
      }).catch(() => {});
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
    },
  };
}

export async function connectTcp(address: string, port: number, handlers: StreamHandlers): Promise<ByteStream> {
  const conn = await Deno.connect({ hostname: address, port, transport: 'tcp' });
  conn.setNoDelay(true);
  serve(conn, handlers);
  return wrap(conn);
}

export function listenTcp(address: string, port: number, onConnection: (conn: ByteStream, from: Peer) => StreamHandlers | null): Promise<Closable> {
  try {
    const listener = Deno.listen({ hostname: address, port, transport: 'tcp' });
    (async () => {
      try {
        for await (const conn of listener) {
          conn.setNoDelay(true);
          const remote = conn.remoteAddr as Deno.NetAddr;
          const stream = wrap(conn);
          const handlers = onConnection(stream, { address: remote.hostname, port: remote.port });
          if (!handlers) stream.close();
          else serve(conn, handlers);
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
