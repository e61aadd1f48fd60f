// The LAN side's DNS-over-TCP sessions (RFC 7766): several queries on one connection, answered
// as each completes (§6.2.1.1 pipelining), and bounds on everything a client can make us hold:
// slots, time, queries read but not yet answered, and answers written but not yet read.
// Adapters only move bytes in and out of sockets; they report how much output waits in the
// process and let reading be paused, so that TCP itself makes a greedy client wait.

import type { Handle } from './handle.ts';
import type { Counters } from './counters.ts';
import type { Clock, Peer, StreamHandlers, TcpConnection, Timers, TimerHandle } from './ports.ts';
import { createFrameReader, frame } from './stream-framer.ts';

/**
 * The largest query frame read. A query is a header (12 bytes), one question (a name of at
 * most 255 bytes, RFC 1035 §2.3.4, plus 4) and an OPT record with a few options (cookies,
 * client subnet, padding to a block of 128 or 468, RFC 8467): well under 1 KiB; a TSIG record
 * adds a few hundred bytes more. 4 KiB leaves room for all of these; a 16 KiB or 64 KiB frame
 * from a client is not a query we could answer, only memory to hold.
 */
export const MAX_QUERY_BYTES = 4 * 1024;
/**
 * Query bytes a connection may hold read but not yet started, beyond the in-flight cap: about
 * 400 typical queries (40 bytes with EDNS). Reading stops as soon as queries wait, so only what
 * one read delivered can pile up; a client that sends more than this at once is cut off.
 */
export const MAX_HELD_QUERY_BYTES = 16 * 1024;
/**
 * Answers written but not yet taken by the kernel, per connection, before reading stops: one
 * answer of the largest size (RFC 1035 §4.2.2). Reading resumes when the client has read them.
 */
export const MAX_UNSENT_BYTES_PER_CONNECTION = 64 * 1024;

export interface StreamServerOptions {
  /** How long a connection may go without a whole query or answer; also the deadline for one query's bytes. */
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxInFlightPerConnection: number;
  /** Unsent answers of all connections together; over it, the biggest holders are closed. */
  readonly maxUnsentBytes: number;
  /** A client's query is small; a declared length above this is an attack or garbage (MAX_QUERY_BYTES). */
  readonly maxQueryBytes?: number;
  readonly maxHeldQueryBytes?: number;
  readonly maxUnsentBytesPerConnection?: number;
  /** Per-client admission of connections (src/gate); absent admits everyone. */
  readonly admitConnection?: ConnectionGate;
}

/** A connection let in by the gate. */
export interface ConnectionTicket {
  /** Called once when the connection closes. */
  release(): void;
  /** The client is not to be answered: it is told REFUSED once, then the connection closes. */
  readonly refused: boolean;
}

/**
 * Asked when a connection arrives: a ticket, or null to close it at once (the client is over
 * its connection cap, or not to be answered at all).
 */
export type ConnectionGate = (address: string) => ConnectionTicket | null;

export interface StreamServer {
  /** Handlers for a new connection, or null when it must be closed at once. */
  accept(conn: TcpConnection, from: Peer): StreamHandlers | null;
  readonly openConnections: number;
  /** Unsent answer bytes counted against maxUnsentBytes (may overstate until a drain). */
  readonly unsentBytes: number;
  /** Closes every connection (shutdown). */
  closeAll(): void;
}

/** What the server knows of one connection, for choosing whom to close. */
interface Session {
  readonly conn: TcpConnection;
  /** Set when the gate refused the client: first to go when slots run out. */
  readonly refused: boolean;
  /** Last whole query received, answer written, or answers read by the client. */
  lastProgressMs: number;
  inFlight: number;
  /** Unsent bytes as last seen, counted in the server's total. */
  unsentCounted: number;
  close(reason: CloseReason): void;
}

type CloseReason = 'idle' | 'slow' | 'evicted' | 'overflow' | 'oversized' | 'output' | 'done' | 'shutdown';

export function createStreamServer(
  handle: Handle,
  options: StreamServerOptions,
  time: Timers & Clock,
  counters: Counters,
): StreamServer {
  const maxQueryBytes = options.maxQueryBytes ?? MAX_QUERY_BYTES;
  const maxHeld = options.maxHeldQueryBytes ?? MAX_HELD_QUERY_BYTES;
  const maxUnsentPerConnection = options.maxUnsentBytesPerConnection ?? MAX_UNSENT_BYTES_PER_CONNECTION;
  const idleMs = options.idleTimeoutMs;
  const sessions = new Set<Session>();
  let unsentTotal = 0;

  /**
   * RFC 7766 §6.2.3: when every slot is taken, the server may close the idlest or slowest
   * connections. A refused client's goes first, then the one with nothing in flight that made
   * progress longest ago (a client trickling bytes makes none); one waiting on upstreams stays.
   * A refused newcomer may only take a refused client's slot.
   */
  function victimFor(newcomerRefused: boolean): Session | null {
    let victim: Session | null = null;
    for (const s of sessions) {
      if (s.inFlight > 0 && !s.refused) continue;
      if (newcomerRefused && !s.refused) continue;
      if (victim === null || (s.refused && !victim.refused) || (s.refused === victim.refused && s.lastProgressMs < victim.lastProgressMs)) victim = s;
    }
    return victim;
  }

  /** Over the total: recount exactly, then close the biggest holders until under it again. */
  function enforceUnsentBudget(): void {
    if (unsentTotal <= options.maxUnsentBytes) return;
    unsentTotal = 0;
    for (const s of sessions) {
      s.unsentCounted = s.conn.bufferedBytes;
      unsentTotal += s.unsentCounted;
    }
    while (unsentTotal > options.maxUnsentBytes) {
      let biggest: Session | null = null;
      for (const s of sessions) if (biggest === null || s.unsentCounted > biggest.unsentCounted) biggest = s;
      if (biggest === null || biggest.unsentCounted === 0) return;
      biggest.close('output');
    }
  }

  function accept(conn: TcpConnection, from: Peer): StreamHandlers | null {
    const full = sessions.size >= options.maxConnections;
    // Full with nobody to close: the gate is not asked (nothing to count against the client).
    if (full && victimFor(false) === null) {
      counters.tcp_connections_refused++;
      return null;
    }
    // The gate before any eviction: a client over its own cap must not push others out.
    const ticket = options.admitConnection ? options.admitConnection(from.address) : null;
    if (options.admitConnection && ticket === null) return null;
    if (full) {
      const victim = victimFor(ticket?.refused ?? false);
      if (victim === null) {
        ticket?.release();
        counters.tcp_connections_refused++;
        return null;
      }
      victim.close('evicted');
    }
    return openSession(conn, from, ticket);
  }

  function openSession(conn: TcpConnection, from: Peer, ticket: ConnectionTicket | null): StreamHandlers {
    const client = { address: from.address, port: from.port, transport: 'tcp' as const };
    const refused = ticket?.refused ?? false;
    let closed = false;
    // The client half-closed (FIN): answer what it sent, then close.
    let ended = false;
    // A refused client's one query has been read: nothing more is.
    let oneTaken = false;
    let paused = false;
    // Since when the next query has been incomplete while we were reading, or the output stuck.
    let partialSinceMs: number | null = null;
    let stuckSinceMs: number | null = null;
    let timer: TimerHandle | null = null;

    const session: Session = {
      conn,
      refused,
      lastProgressMs: time.now(),
      inFlight: 0,
      unsentCounted: 0,
      close: (reason) => close(reason),
    };

    function forget(): void {
      closed = true;
      sessions.delete(session);
      unsentTotal -= session.unsentCounted;
      session.unsentCounted = 0;
      ticket?.release();
      if (timer !== null) time.clearTimeout(timer);
      timer = null;
    }
    function close(reason: CloseReason): void {
      if (closed) return;
      if (reason === 'idle') counters.tcp_idle_closed++;
      else if (reason === 'slow') counters.tcp_slow_closed++;
      else if (reason === 'evicted') counters.tcp_evicted++;
      else if (reason === 'overflow') counters.tcp_pipeline_overflows++;
      else if (reason === 'oversized') counters.tcp_oversized_frames++;
      else if (reason === 'output') counters.tcp_unsent_overflows++;
      forget();
      conn.close();
    }

    /**
     * One timer per connection, never re-armed per message: every deadline is some moment at
     * or before now plus idleMs, so the timer set at the last check fires no later than the
     * earliest of them, and the check sets the next.
     */
    function check(): void {
      timer = null;
      if (closed) return;
      const now = time.now();
      if (partialSinceMs !== null && now - partialSinceMs >= idleMs) return close('slow');
      // The adapter sends without telling us until all is sent: look again before judging.
      if (stuckSinceMs !== null) updateReading();
      if (stuckSinceMs !== null && now - stuckSinceMs >= idleMs) return close('slow');
      const idle = session.inFlight === 0 && reader.pending === 0;
      if (idle && now - session.lastProgressMs >= idleMs) return close('idle');
      let next = now + idleMs;
      if (partialSinceMs !== null) next = Math.min(next, partialSinceMs + idleMs);
      if (stuckSinceMs !== null) next = Math.min(next, stuckSinceMs + idleMs);
      if (idle) next = Math.min(next, session.lastProgressMs + idleMs);
      timer = time.setTimeout(check, next - now);
    }

    /** Reading stops while queries wait for a slot or answers wait for the client to read them. */
    function updateReading(): void {
      if (closed) return;
      const unsentOver = conn.bufferedBytes > maxUnsentPerConnection;
      if (!unsentOver) stuckSinceMs = null;
      else stuckSinceMs ??= time.now();
      const shouldPause = oneTaken || unsentOver || (reader.pending > 0 && !reader.partial);
      if (shouldPause !== paused) {
        paused = shouldPause;
        if (paused) conn.pause();
        else conn.resume();
      }
      // A query's deadline runs only while we read: a pause of ours is not the client's slowness.
      if (!paused && reader.partial) partialSinceMs ??= time.now();
      else partialSinceMs = null;
    }

    function accepting(): boolean {
      return !closed && !oneTaken && conn.bufferedBytes <= maxUnsentPerConnection && session.inFlight < options.maxInFlightPerConnection;
    }

    /** Nothing more will be answered: after FIN, or a refused client's one query, with nothing in flight. */
    function finishedAll(): boolean {
      if (session.inFlight > 0) return false;
      if (oneTaken) return true;
      // After FIN an incomplete query never completes; whole ones held are still answered.
      return ended && (reader.pending === 0 || reader.partial);
    }

    function finished(): void {
      session.inFlight--;
      if (closed) return;
      reader.resume();
      if (finishedAll()) return close('done');
      updateReading();
    }

    function start(message: Uint8Array): void {
      session.inFlight++;
      session.lastProgressMs = time.now();
      partialSinceMs = null;
      // Never kept for a client we do not answer: one REFUSED, then the connection closes.
      if (refused) oneTaken = true;
      Promise.resolve(handle(message, client)).then(
        (reply) => {
          if (!closed && reply) written(reply);
          finished();
        },
        () => finished(),
      );
    }

    function written(reply: Uint8Array): void {
      conn.write(frame(reply));
      session.lastProgressMs = time.now();
      const unsent = conn.bufferedBytes;
      unsentTotal += unsent - session.unsentCounted;
      session.unsentCounted = unsent;
      if (unsent > 0) enforceUnsentBudget();
    }

    const reader = createFrameReader(maxQueryBytes, start, () => close('oversized'), accepting);

    sessions.add(session);
    timer = time.setTimeout(check, idleMs);
    return {
      onData(bytes) {
        if (closed) return;
        reader.push(bytes);
        if (closed) return;
        if (reader.pending > maxHeld) return close('overflow');
        updateReading();
      },
      onDrain() {
        if (closed) return;
        session.lastProgressMs = time.now();
        unsentTotal -= session.unsentCounted;
        session.unsentCounted = 0;
        stuckSinceMs = null;
        reader.resume();
        updateReading();
      },
      onEnd() {
        if (closed) return;
        ended = true;
        if (finishedAll()) close('done');
      },
      onClose() {
        if (!closed) forget();
      },
    };
  }

  return {
    accept,
    get openConnections() {
      return sessions.size;
    },
    get unsentBytes() {
      return unsentTotal;
    },
    closeAll() {
      for (const s of [...sessions]) s.close('shutdown');
    },
  };
}
