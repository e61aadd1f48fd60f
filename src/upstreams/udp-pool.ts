// Plain UDP to one upstream through a small pool of connected sockets, each on a port the
// kernel picked at random, each retired after a few queries or a short time (#11).
//
// Why not a fresh socket per query: opening, connecting and closing one cost two thirds of a
// miss's CPU (socket, bind, connect, epoll registration, close: a Bun profile of 40k misses put
// 10.8% in udpSocket alone and most of `send`'s 36% in the first send on a new socket).
//
// Why this keeps RFC 5452's guarantees:
// - Port: every socket is bound to port 0, so the kernel draws its port at random from the
//   ephemeral range (Linux: 32768-60999, about 28k ports), as for a fresh socket; a query goes
//   out on one of the pool's sockets chosen at random. An off-path attacker does not see which
//   port it left from, so a forged reply must still guess port and ID: ~1 in 28k x 65,536 per
//   packet (RFC 5452 §9.2), the same as with a fresh socket per query.
// - What a longer-lived port changes: an attacker who learns a port by a side channel (SAD DNS,
//   CVE-2020-25705, finds open UDP ports through the ICMP rate limit in seconds) can then aim at
//   every query that socket carries. So a socket carries at most MAX_QUERIES_PER_SOCKET queries
//   and takes new ones for at most MAX_SOCKET_AGE_MS; a port found by scanning is useless a
//   moment later, and a learned port still leaves the 16-bit ID and the question to match.
// - ID: random per query from a CSPRNG (the caller's entropy.id16()); an ID already used on the
//   socket during its life goes to another socket, so a late reply to an abandoned query is
//   never taken for a newer one's.
// - Match: a reply is taken only from the upstream's address and port (the kernel filters a
//   connected socket; Deno's unconnected one is checked here), with the ID and question of a
//   query in flight on that socket (reply-match.ts). Anything else is counted and dropped.
// - Refusal: the sockets stay connected, so an ICMP port unreachable still comes back (as
//   ECONNREFUSED on the socket): every query in flight on that socket fails as refused at once
//   (they all went to the same upstream), and the socket is retired.
// - Network change (#12): a connected socket keeps the source address it had when it connected;
//   reset() retires every socket so the next query connects afresh from the new address.
//
// Deadlines: one timer for the whole pool, set for the earliest deadline of the queries in
// flight, instead of a timer per query (a setTimeout and its clearTimeout were 3% of a miss's
// CPU on Bun, #11). A query that ends sooner leaves the timer alone: when it fires, it ends
// whatever is due and is set again for the next deadline, so a query still times out exactly
// at its own deadline, and a busy pool pays for one timer per deadline's length, not per query.

import { ErrorCode, HoldfastError } from '../core/errors.ts';
import type { CorePorts, UdpClient } from '../core/ports.ts';
import type { ExchangeCounters } from './bounded-exchange.ts';
import { DueList, type DueItem } from './due-list.ts';
import { isRefusal } from './refused.ts';
import { replyMatches } from './reply-match.ts';
import type { UpstreamSpec } from './spec.ts';
import type { StopSignal } from './stop.ts';
import type { CopySink, Transport } from './transport.ts';
import { sameAddress } from './udp.ts';

/** Sockets open at once per upstream, each taking new queries; a query picks one at random. */
export const POOL_SOCKETS = 4;
/** Queries a socket carries before it is retired (closed once its last one has ended). */
export const MAX_QUERIES_PER_SOCKET = 100;
/** A socket takes new queries for at most this long; idle, it is closed then. */
export const MAX_SOCKET_AGE_MS = 2_000;

export interface UdpPoolOptions {
  readonly sockets?: number;
  readonly maxQueriesPerSocket?: number;
  readonly maxSocketAgeMs?: number;
}

/** A query in flight; on the pool's DueList until its deadline (one timer for all of them). */
class Pending implements DueItem {
  dueAtMs = Infinity;
  dueIndex = -1;
  onAbort: (() => void) | null = null;
  constructor(
    readonly query: Uint8Array,
    /** Where the outcome goes: a CopySink, or a promise's resolve and reject (exchange()). */
    readonly to: Outcome,
    readonly timeoutMs: number,
    readonly signal: StopSignal | undefined,
    readonly socket: PooledSocket,
    private readonly timedOut: (p: Pending) => void,
  ) {}

  due(): void {
    this.timedOut(this);
  }
}

interface Outcome {
  landed(reply: Uint8Array): void;
  failed(error: Error): void;
}

/** An error is delivered a microtask later, as a rejection would be: never in the middle of the deadline list's turn or a socket's failure. */
function fail(p: Pending, error: Error): void {
  queueMicrotask(() => p.to.failed(error));
}

interface PooledSocket {
  /** null until the runtime has opened it; sends wait in `queued` meanwhile. */
  client: UdpClient | null;
  queued: Uint8Array[];
  /** Every ID sent on this socket in its life: null once its query has ended. */
  readonly ids: Map<number, Pending | null>;
  inFlight: number;
  sent: number;
  retired: boolean;
  closed: boolean;
  ageTimer: unknown;
}

export function createUdpPoolTransport(
  ports: CorePorts,
  upstream: UpstreamSpec,
  counters: ExchangeCounters,
  options: UdpPoolOptions = {},
): Transport & { readonly openSockets: () => number } {
  const size = options.sockets ?? POOL_SOCKETS;
  const maxQueries = options.maxQueriesPerSocket ?? MAX_QUERIES_PER_SOCKET;
  const maxAgeMs = options.maxSocketAgeMs ?? MAX_SOCKET_AGE_MS;
  const timers = ports.timers;
  const slots: Array<PooledSocket | null> = new Array(size).fill(null);
  /** Every socket not yet closed, the retired ones still finishing included. */
  const live = new Set<PooledSocket>();
  /** Every query's deadline, on one timer for the pool rather than a setTimeout per query (#11). */
  const deadlines = new DueList(ports.clock, timers);
  let closed = false;

  function closeSocket(s: PooledSocket): void {
    if (s.closed) return;
    s.closed = true;
    s.retired = true;
    timers.clearTimeout(s.ageTimer);
    live.delete(s);
    s.client?.close();
  }

  function retire(s: PooledSocket): void {
    if (!s.retired) {
      s.retired = true;
      const i = slots.indexOf(s);
      if (i >= 0) slots[i] = null;
    }
    if (s.inFlight === 0) closeSocket(s);
  }

  function end(s: PooledSocket, id: number, p: Pending): void {
    deadlines.cancel(p);
    s.ids.set(id, null);
    s.inFlight--;
    if (p.onAbort) p.signal!.removeEventListener('abort', p.onAbort);
    if (s.retired && s.inFlight === 0) closeSocket(s);
  }

  function onMessage(s: PooledSocket, bytes: Uint8Array, fromAddress: string, fromPort: number): void {
    // RFC 5452 §9.1: from where the queries went, with the ID and question of one in flight.
    const p = bytes.length >= 2 ? s.ids.get((bytes[0] << 8) | bytes[1]) : undefined;
    if (fromPort !== upstream.port || !sameAddress(fromAddress, upstream.address) || p === undefined) {
      counters.upstream_mismatched_replies++;
      return;
    }
    // A late reply to a query that already ended (timed out, or answered by another copy).
    if (p === null) return;
    if (!replyMatches(bytes, p.query)) {
      counters.upstream_mismatched_replies++;
      return;
    }
    end(s, (bytes[0] << 8) | bytes[1], p);
    p.to.landed(bytes);
  }

  /** The socket failed: every query in flight on it fails alike, and it takes no more. */
  function onError(s: PooledSocket, e: Error): void {
    const error = isRefusal(e)
      ? new HoldfastError(ErrorCode.upstreamRefused, `upstream: ${upstream.label} refused the query (ICMP port unreachable: nothing listens there)`)
      : new HoldfastError(ErrorCode.upstreamNetwork, `upstream: UDP socket to ${upstream.label} failed (${e.message})`);
    failAll(s, error);
    retire(s);
  }

  function failAll(s: PooledSocket, error: Error): void {
    for (const [id, p] of s.ids) {
      if (p === null) continue;
      end(s, id, p);
      fail(p, error);
    }
  }

  function timedOut(p: Pending): void {
    end(p.socket, (p.query[0] << 8) | p.query[1], p);
    fail(p, new HoldfastError(ErrorCode.upstreamTimeout, `upstream: no reply over UDP within ${p.timeoutMs} ms (${upstream.label})`));
  }

  function open(): PooledSocket {
    const s: PooledSocket = { client: null, queued: [], ids: new Map(), inFlight: 0, sent: 0, retired: false, closed: false, ageTimer: null };
    live.add(s);
    s.ageTimer = timers.setTimeout(() => retire(s), maxAgeMs);
    const opened = (client: UdpClient) => {
      if (s.closed) return client.close();
      s.client = client;
      for (const q of s.queued) client.send(q);
      s.queued.length = 0;
    };
    const failed = (e: unknown) => {
      const error = new HoldfastError(ErrorCode.upstreamNetwork, `upstream: UDP socket failed (${e instanceof Error ? e.message : String(e)})`);
      failAll(s, error);
      retire(s);
    };
    try {
      // Connected, so that an ICMP port unreachable comes back as an error: without it a
      // refusing upstream looks like a silent one and the client waits for the deadline.
      ports.net
        .connectUdp(upstream.address, upstream.port, {
          onMessage: (bytes, from) => onMessage(s, bytes, from.address, from.port),
          onError: (e) => onError(s, e),
        })
        .then(opened, failed);
    } catch (e) {
      // Rejected on a later tick, so the caller has registered its query first.
      Promise.resolve().then(() => failed(e));
    }
    return s;
  }

  /** A socket for this ID: a random slot's, or the next one's if it has used the ID already. */
  function socketFor(id: number): PooledSocket {
    const start = Math.floor(ports.entropy.random() * size) % size;
    for (let k = 0; k < size; k++) {
      const i = (start + k) % size;
      let s = slots[i];
      if (s === null) s = slots[i] = open();
      if (!s.ids.has(id)) return s;
    }
    // Every slot has used this ID (a chance of about (maxQueries / 65,536)^size): a socket of its own.
    const s = open();
    s.retired = true;
    return s;
  }

  /** Sends `query` and delivers its outcome to `to`; `signal` stops the wait. */
  function start(query: Uint8Array, timeoutMs: number, signal: StopSignal | undefined, to: Outcome): void {
    if (closed) {
      // Closed for good: opening a socket now would outlive its owner.
      queueMicrotask(() => to.failed(new HoldfastError(ErrorCode.upstreamAborted, 'upstream: UDP transport closed')));
      return;
    }
    const id = (query[0] << 8) | query[1];
    const s = socketFor(id);
    const p = new Pending(query, to, timeoutMs, signal, s, timedOut);
    if (signal) {
      p.onAbort = () => {
        end(s, id, p);
        fail(p, new HoldfastError(ErrorCode.upstreamAborted, 'upstream: exchange abandoned'));
      };
      signal.addEventListener('abort', p.onAbort);
    }
    deadlines.schedule(p, timeoutMs);
    s.ids.set(id, p);
    s.inFlight++;
    s.sent++;
    if (s.sent >= maxQueries && !s.retired) retire(s);
    if (s.client) s.client.send(query);
    else s.queued.push(query);
  }

  function exchange(query: Uint8Array, timeoutMs: number, signal?: StopSignal): Promise<Uint8Array> {
    if (signal?.aborted) return Promise.reject(new HoldfastError(ErrorCode.upstreamAborted, 'upstream: exchange abandoned'));
    return new Promise((resolve, reject) => start(query, timeoutMs, signal, { landed: resolve, failed: reject }));
  }

  function exchangeTo(query: Uint8Array, timeoutMs: number, copy: CopySink): void {
    if (copy.aborted) queueMicrotask(() => copy.failed(new HoldfastError(ErrorCode.upstreamAborted, 'upstream: exchange abandoned')));
    else start(query, timeoutMs, copy, copy);
  }

  function closeAll(): void {
    closed = true;
    for (const s of [...live]) {
      failAll(s, new HoldfastError(ErrorCode.upstreamAborted, 'upstream: exchange abandoned'));
      closeSocket(s);
    }
    slots.fill(null);
  }

  return {
    exchange,
    exchangeTo,
    close: closeAll,
    // #12: sockets connected before a network change keep the old source address; the queries
    // in flight finish (or time out) on them, new ones go out on fresh sockets.
    reset() {
      for (const s of [...live]) retire(s);
    },
    openSockets: () => live.size,
  };
}
