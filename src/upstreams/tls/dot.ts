// DNS over TLS (RFC 7858) on one long-lived connection per upstream. Queries are pipelined:
// many are in flight at once and replies come back in any order, matched by ID, which must be
// unique among the queries in flight on the connection (RFC 7766 §7), so a copy whose ID is
// taken goes out under another and gets its own back in the reply.
//
// The connection is opened on demand, closed after `idleTimeoutMs` with nothing in flight, and
// reopened with a short jittered backoff after a failed attempt (the upstream's circuit breaker
// does the long-term backing off). A connection on which a query has waited
// `silentConnectionMs` with nothing at all received since it was sent is taken as half-open
// (a NAT that forgot it, a peer that vanished) and replaced; one silent for longer than the
// upstream's RTO already takes no new queries (#12). Queries in flight on a connection
// that closes under them go out once more on the next one, so a server that closes idle
// connections or restarts costs a reconnect, not an unanswered query.

import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { Counters } from '../../core/counters.ts';
import type { CorePorts, TimerHandle, TlsStream } from '../../core/ports.ts';
import { createFrameReader, frame, type FrameReader } from '../../core/stream-framer.ts';
import { padQuery } from '../../core/wire/padding.ts';
import { startDeadline, type Deadline } from '../deadline.ts';
import { MAX_TCP_MESSAGE } from '../../core/wire/reply.ts';
import { replyMatches } from '../reply-match.ts';
import type { UpstreamSpec } from '../spec.ts';
import { createTlsDialer } from './dialer.ts';
import type { EncryptedTransportSettings, Transport } from '../transport.ts';

const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 2_000;

interface Pending {
  /** The query as the caller gave it (padded), with its own ID. */
  readonly query: Uint8Array;
  readonly resolve: (reply: Uint8Array) => void;
  readonly reject: (e: HoldfastError) => void;
  done: boolean;
  /** Sent again after its connection closed under it; not a second time. */
  requeued: boolean;
  conn: Conn | null;
  /** The ID it went out with on `conn`, and those bytes. */
  wireId: number;
  sent: Uint8Array;
  sentAtMs: number;
}

interface Conn {
  stream: TlsStream | null;
  readonly reader: FrameReader;
  /** In flight on this connection, by wire ID. */
  readonly inFlight: Map<number, Pending>;
  /** Waiting for the handshake. */
  waiting: Pending[];
  lastHeardMs: number;
  /** When the first query sent since anything was last heard went out; null: heard since. */
  unheardSinceMs: number | null;
  /** Silent past the upstream's RTO: takes no new queries, closed once its own are done (#12). */
  retired: boolean;
  closed: boolean;
  idleTimer: TimerHandle | null;
  watchTimer: TimerHandle | null;
}

function withId(bytes: Uint8Array, id: number): Uint8Array {
  const copy = bytes.slice();
  copy[0] = id >> 8;
  copy[1] = id & 0xff;
  return copy;
}

const idOf = (bytes: Uint8Array) => (bytes[0] << 8) | bytes[1];

export function createDotTransport(spec: UpstreamSpec, settings: EncryptedTransportSettings, ports: CorePorts, counters: Counters): Transport {
  const { clock, timers } = ports;
  const dialer = createTlsDialer(spec, settings, ports);
  let current: Conn | null = null;
  /** Connections retired for silence, still owed replies until their deadline. */
  const stale = new Set<Conn>();
  let connectFailures = 0;
  let retryAtMs = -Infinity;
  let lastConnectError: HoldfastError | null = null;

  const finish = (p: Pending, error: HoldfastError | null, reply?: Uint8Array) => {
    if (p.done) return;
    p.done = true;
    const c = p.conn;
    if (c) {
      if (c.inFlight.get(p.wireId) === p) c.inFlight.delete(p.wireId);
      c.waiting = c.waiting.filter((w) => w !== p);
      if (!c.closed && c.inFlight.size === 0 && c.waiting.length === 0) {
        if (c.retired) shut(c, 'retired for silence', false);
        else armIdle(c);
      }
    }
    if (error) p.reject(error);
    else p.resolve(reply!);
  };

  const armIdle = (c: Conn) => {
    if (c.idleTimer !== null || c.stream === null) return;
    c.idleTimer = timers.setTimeout(() => {
      c.idleTimer = null;
      if (c.inFlight.size === 0 && c.waiting.length === 0) {
        counters.upstream_connections_idle_closed++;
        shut(c, 'idle', false);
      }
    }, settings.idleTimeoutMs);
  };

  /** The earliest query sent after the last bytes were heard: if it waits too long, the connection is dead. */
  const watch = (c: Conn) => {
    if (c.watchTimer !== null || c.closed) return;
    let oldest = Infinity;
    for (const p of c.inFlight.values()) if (p.sentAtMs >= c.lastHeardMs && p.sentAtMs < oldest) oldest = p.sentAtMs;
    if (oldest === Infinity) return;
    c.watchTimer = timers.setTimeout(() => {
      c.watchTimer = null;
      if (c.closed) return;
      const now = clock.now();
      let stillOldest = Infinity;
      for (const p of c.inFlight.values()) if (p.sentAtMs >= c.lastHeardMs && p.sentAtMs < stillOldest) stillOldest = p.sentAtMs;
      if (now - stillOldest >= settings.silentConnectionMs) {
        counters.upstream_connections_dead++;
        shut(c, `nothing received for ${settings.silentConnectionMs} ms with queries in flight`, true);
      } else watch(c);
    }, Math.max(1, oldest + settings.silentConnectionMs - clock.now()));
  };

  /** Closes `c`; what was in flight on it goes out once more on a new connection when `requeue`. */
  const shut = (c: Conn, why: string, requeue: boolean) => {
    if (c.closed) return;
    c.closed = true;
    if (current === c) current = null;
    stale.delete(c);
    if (c.idleTimer !== null) timers.clearTimeout(c.idleTimer);
    if (c.watchTimer !== null) timers.clearTimeout(c.watchTimer);
    c.idleTimer = c.watchTimer = null;
    c.stream?.close();
    const orphans = [...c.inFlight.values(), ...c.waiting];
    c.inFlight.clear();
    c.waiting = [];
    for (const p of orphans) {
      p.conn = null;
      if (requeue && !p.requeued) {
        p.requeued = true;
        counters.upstream_requeued++;
        send(p);
      } else finish(p, new HoldfastError(ErrorCode.upstreamNetwork, `upstream: TLS connection to ${spec.label} closed before a reply (${why})`));
    }
  };

  const onMessage = (c: Conn, message: Uint8Array) => {
    c.lastHeardMs = clock.now();
    c.unheardSinceMs = null;
    const p = message.length >= 2 ? c.inFlight.get(idOf(message)) : undefined;
    // No such ID: the late reply to a copy already stopped. Ignored.
    if (!p) return;
    if (!replyMatches(message, p.sent)) {
      counters.upstream_mismatched_replies++;
      return;
    }
    c.inFlight.delete(p.wireId);
    finish(p, null, p.wireId === idOf(p.query) ? message : withId(message, idOf(p.query)));
  };

  const open = (): Conn => {
    const c: Conn = {
      stream: null,
      reader: createFrameReader(
        MAX_TCP_MESSAGE,
        (m) => onMessage(c, m),
        () => shut(c, 'oversized frame', false),
      ),
      inFlight: new Map(),
      waiting: [],
      lastHeardMs: clock.now(),
      unheardSinceMs: null,
      retired: false,
      closed: false,
      idleTimer: null,
      watchTimer: null,
    };
    dialer
      .dial({
        onData: (bytes) => {
          if (c.stream && !c.closed) c.reader.push(bytes);
        },
        onClose: () => {
          if (c.stream) shut(c, 'closed by the server', true);
        },
      })
      .then(
        (stream) => {
          if (c.closed) {
            stream.close();
            return;
          }
          c.stream = stream;
          c.lastHeardMs = clock.now();
          connectFailures = 0;
          lastConnectError = null;
          counters.upstream_connections++;
          const waiting = c.waiting;
          c.waiting = [];
          for (const p of waiting) write(c, p);
          if (c.inFlight.size === 0) armIdle(c);
        },
        (e: HoldfastError) => {
          counters.upstream_connect_failures++;
          connectFailures++;
          lastConnectError = e;
          const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (connectFailures - 1));
          retryAtMs = clock.now() + backoff * (0.5 + ports.entropy.random() / 2);
          c.closed = true;
          if (current === c) current = null;
          const waiting = c.waiting;
          c.waiting = [];
          for (const p of waiting) finish(p, e);
        },
      );
    return c;
  };

  const write = (c: Conn, p: Pending) => {
    let id = idOf(p.query);
    // RFC 7766 §7: IDs are unique among the queries in flight on one connection.
    for (let tries = 0; c.inFlight.has(id); tries++) id = tries < 64 ? ports.entropy.id16() : (id + 1) & 0xffff;
    p.conn = c;
    p.wireId = id;
    p.sent = id === idOf(p.query) ? p.query : withId(p.query, id);
    p.sentAtMs = clock.now();
    c.unheardSinceMs ??= p.sentAtMs;
    c.inFlight.set(id, p);
    if (c.idleTimer !== null) {
      timers.clearTimeout(c.idleTimer);
      c.idleTimer = null;
    }
    c.stream!.write(frame(p.sent));
    watch(c);
  };

  /**
   * A connection that sent a query and has heard nothing for longer than the upstream's RTO
   * (#12): after a WAN change or a NAT that forgot it, every query on it would be lost. New
   * queries go to a fresh connection; this one keeps what is in flight until it is answered or
   * `silentConnectionMs` passes (watch()), and then closes. A slow reply costs one handshake.
   */
  const retireIfSilent = (c: Conn) => {
    if (c.stream === null || c.unheardSinceMs === null || !settings.rtoMs) return;
    if (clock.now() - c.unheardSinceMs <= settings.rtoMs()) return;
    c.retired = true;
    if (current === c) current = null;
    if (c.inFlight.size === 0) shut(c, 'retired for silence', false);
    else stale.add(c);
  };

  const send = (p: Pending) => {
    if (p.done) return;
    if (current && !p.requeued) retireIfSilent(current);
    let c = current;
    if (c === null || c.closed) {
      if (clock.now() < retryAtMs && lastConnectError) {
        finish(p, lastConnectError);
        return;
      }
      c = current = open();
    }
    p.conn = c;
    if (c.stream) write(c, p);
    else c.waiting.push(p);
  };

  return {
    exchange(query, timeoutMs, signal) {
      return new Promise<Uint8Array>((resolve, reject) => {
        // Null while startDeadline runs: a signal already aborted ends the wait inside it.
        let deadline: Deadline | null = null;
        const p: Pending = {
          query: padQuery(query, settings.paddingBlockBytes),
          resolve: (r) => {
            deadline?.cancel();
            resolve(r);
          },
          reject: (e) => {
            deadline?.cancel();
            reject(e);
          },
          done: false,
          requeued: false,
          conn: null,
          wireId: -1,
          sent: query,
          sentAtMs: 0,
        };
        deadline = startDeadline(timers, timeoutMs, () => `upstream: no reply over TLS within ${timeoutMs} ms (${spec.label})`, (e) => finish(p, e), signal);
        if (p.done) return;
        send(p);
      });
    },
    close() {
      if (current) shut(current, 'shutting down', false);
    },
    reset() {
      connectFailures = 0;
      retryAtMs = -Infinity;
      lastConnectError = null;
      for (const c of [...(current ? [current] : []), ...stale]) shut(c, 'the network changed', true);
    },
  };
}
