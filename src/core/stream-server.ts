// The LAN side's DNS-over-TCP sessions (RFC 7766): several queries on one connection, answered
// as each completes (§6.2.1.1 pipelining), an idle timeout, and caps on connections and on
// queries in flight per connection. Adapters only move bytes in and out of sockets.

import type { Handle } from './handle.ts';
import type { Counters } from './counters.ts';
import type { ByteStream, Peer, StreamHandlers, Timers, TimerHandle } from './ports.ts';
import { createFrameReader, frame } from './stream-framer.ts';

export interface StreamServerOptions {
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxInFlightPerConnection: number;
  /** A client's query is small; a declared length above this is an attack or garbage. */
  readonly maxQueryBytes: number;
}

export interface StreamServer {
  /** Handlers for a new connection, or null when it must be closed at once. */
  accept(conn: ByteStream, from: Peer): StreamHandlers | null;
  readonly openConnections: number;
  /** Closes every connection (shutdown). */
  closeAll(): void;
}

export function createStreamServer(handle: Handle, options: StreamServerOptions, timers: Timers, counters: Counters): StreamServer {
  const open = new Set<() => void>();

  function accept(conn: ByteStream, from: Peer): StreamHandlers | null {
    if (open.size >= options.maxConnections) {
      counters.tcp_connections_refused++;
      return null;
    }
    const client = { address: from.address, port: from.port, transport: 'tcp' as const };
    let inFlight = 0;
    let closed = false;
    // The client half-closed: answer what it sent, then close.
    let ended = false;
    let timer: TimerHandle | null = null;

    const close = () => {
      if (closed) return;
      closed = true;
      open.delete(close);
      if (timer !== null) timers.clearTimeout(timer);
      conn.close();
    };
    const arm = () => {
      if (timer !== null) timers.clearTimeout(timer);
      timer = timers.setTimeout(() => {
        timer = null;
        // Only an idle connection is closed; one waiting on upstreams gets its answers first.
        if (inFlight === 0) {
          counters.tcp_idle_closed++;
          close();
        } else arm();
      }, options.idleTimeoutMs);
    };
    const reader = createFrameReader(
      options.maxQueryBytes,
      (message) => {
        if (++inFlight > options.maxInFlightPerConnection) {
          close();
          return;
        }
        handle(message, client).then(
          (reply) => {
            inFlight--;
            if (closed) return;
            if (reply) conn.write(frame(reply));
            if (ended && inFlight === 0) close();
            else arm();
          },
          () => {
            inFlight--;
            if (ended && inFlight === 0) close();
          },
        );
      },
      () => {
        counters.tcp_oversized_frames++;
        close();
      },
    );

    open.add(close);
    arm();
    return {
      onData(bytes) {
        if (closed) return;
        arm();
        reader.push(bytes);
      },
      onEnd() {
        if (closed) return;
        ended = true;
        if (inFlight === 0) close();
      },
      onClose() {
        if (closed) return;
        closed = true;
        open.delete(close);
        if (timer !== null) timers.clearTimeout(timer);
      },
    };
  }

  return {
    accept,
    get openConnections() {
      return open.size;
    },
    closeAll() {
      for (const close of [...open]) close();
    },
  };
}
