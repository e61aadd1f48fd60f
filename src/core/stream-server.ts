// The LAN side's DNS-over-TCP sessions (RFC 7766): several queries on one connection, answered
// as each completes (§6.2.1.1 pipelining), an idle timeout, and caps on connections and on
// queries in flight per connection. Adapters only move bytes in and out of sockets.

import type { Handle } from './handle.ts';
import type { Counters } from './counters.ts';
import type { ByteStream, Peer, StreamHandlers, Timers, TimerHandle } from './ports.ts';
import { createFrameReader, frame } from './stream-framer.ts';

/** How many queries may wait, per in-flight slot, before a pipelining client is cut off. */
const WAITING_PER_SLOT = 8;

export interface StreamServerOptions {
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxInFlightPerConnection: number;
  /** A client's query is small; a declared length above this is an attack or garbage. */
  readonly maxQueryBytes: number;
  /** Per-client admission of connections (src/gate); absent admits everyone. */
  readonly admitConnection?: ConnectionGate;
}

/**
 * Asked when a connection arrives: a function to call once when it closes, or null to close
 * it at once (the client is over its connection cap, or not to be answered at all).
 */
export type ConnectionGate = (address: string) => (() => void) | null;

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
    const release = options.admitConnection ? options.admitConnection(from.address) : null;
    if (options.admitConnection && release === null) return null;
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
      if (release) release();
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
    // Queries beyond the in-flight cap wait their turn; only a client that piles up far more
    // than it could ever have answered in time is cut off.
    const waiting: Uint8Array[] = [];
    const finished = () => {
      inFlight--;
      const next = waiting.shift();
      if (next && !closed) start(next);
      else if (ended && inFlight === 0) close();
    };
    const start = (message: Uint8Array) => {
      inFlight++;
      Promise.resolve(handle(message, client)).then(
        (reply) => {
          if (!closed) {
            if (reply) conn.write(frame(reply));
            arm();
          }
          finished();
        },
        () => finished(),
      );
    };
    const reader = createFrameReader(
      options.maxQueryBytes,
      (message) => {
        // A segment may hold more messages after the one that got the connection closed.
        if (closed) return;
        if (inFlight < options.maxInFlightPerConnection) start(message);
        else if (waiting.length < options.maxInFlightPerConnection * WAITING_PER_SLOT) waiting.push(message);
        else {
          counters.tcp_pipeline_overflows++;
          close();
        }
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
        if (inFlight === 0 && waiting.length === 0) close();
      },
      onClose() {
        if (closed) return;
        closed = true;
        open.delete(close);
        if (release) release();
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
