// Keep-alive HTTP/1.1 connections to one upstream, each carrying one request at a time, shared
// by DNS over HTTPS and the relay client. A request waits for a free connection, or opens one
// while there are fewer than `connections`. No pipelining: many servers handle it badly.
//
// A request on a reused connection that the server closed before answering (its keep-alive
// timeout raced our request) goes out once more on a fresh one. A request stopped while in
// flight leaves its connection busy until the response is read (or `drainMs` passes), so the
// next request never gets the previous one's answer. After a failed connection attempt,
// requests fail at once for a short jittered backoff; the pool's breaker does the rest.

import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { Counters } from '../../core/counters.ts';
import type { ByteStream, CorePorts, StreamHandlers, TimerHandle } from '../../core/ports.ts';
import { createResponseReader, type HttpResponse, type ResponseReader } from './http1.ts';
import { startDeadline, type Deadline } from '../deadline.ts';
import type { StopSignal } from '../stop.ts';

const MAX_HEAD_BYTES = 16 * 1024;
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 2_000;

export interface HttpPoolOptions {
  /** For messages: the upstream as the user wrote it. */
  readonly label: string;
  readonly connections: number;
  /** A connection with nothing in flight this long is closed. */
  readonly idleTimeoutMs: number;
  /** A stopped request's response is awaited this long before its connection is given up. */
  readonly drainMs: number;
  /**
   * A connection whose request has had no byte back for this long is stalled (TCP backing off
   * on a lossy link, or a server still working): it keeps its request, but no longer counts
   * against `connections`, so other requests get a connection of their own, up to twice as many.
   */
  readonly stallMs: number;
  /** The upstream's RTO now: a connection is stalled already past it, when shorter than `stallMs` (#12). */
  readonly rtoMs?: () => number;
  readonly maxBodyBytes: number;
  /** Opens one connection (TLS or plain); rejects with a HoldfastError saying why. */
  readonly dial: (handlers: StreamHandlers) => Promise<ByteStream>;
}

/** The options an upstream's pool takes from the encrypted-upstream settings. */
export function poolSettings(
  label: string,
  s: { readonly httpConnections: number; readonly idleTimeoutMs: number; readonly silentConnectionMs: number; readonly rtoMs?: () => number },
): Pick<HttpPoolOptions, 'label' | 'connections' | 'idleTimeoutMs' | 'drainMs' | 'stallMs' | 'rtoMs'> {
  return { label, connections: s.httpConnections, idleTimeoutMs: s.idleTimeoutMs, drainMs: s.silentConnectionMs, stallMs: s.silentConnectionMs, rtoMs: s.rtoMs };
}

export interface HttpPool {
  /**
   * Sends one encoded request and resolves with its response, whatever the status. Rejects with
   * upstreamTimeout past `timeoutMs` (closing the connection), upstreamAborted when `signal`
   * fires, the dial's error, or upstreamNetwork when the connection dies under it.
   */
  send(request: Uint8Array, timeoutMs: number, signal?: StopSignal): Promise<HttpResponse>;
  close(): void;
  /** Drops every connection at once (the network changed); requests on them go out once more. */
  reset(): void;
}

interface Pending {
  readonly bytes: Uint8Array;
  readonly resolve: (r: HttpResponse) => void;
  readonly reject: (e: HoldfastError) => void;
  done: boolean;
  retried: boolean;
}

interface HttpConn {
  stream: ByteStream | null;
  readonly reader: ResponseReader;
  /** The request whose response is awaited; it may be done (stopped) already. */
  busy: Pending | null;
  /** A response has been read on it: a close before the next one may be a keep-alive race. */
  reused: boolean;
  closed: boolean;
  idleTimer: TimerHandle | null;
  /** Set while a stopped request's response is still owed. */
  drainTimer: TimerHandle | null;
  stallTimer: TimerHandle | null;
  stalled: boolean;
}

export function createHttpPool(options: HttpPoolOptions, ports: CorePorts, counters: Counters): HttpPool {
  const { clock, timers } = ports;
  const conns: HttpConn[] = [];
  const queue: Pending[] = [];
  let opening = 0;
  let connectFailures = 0;
  let retryAtMs = -Infinity;
  let lastConnectError: HoldfastError | null = null;

  const finish = (r: Pending, error: HoldfastError | null, response?: HttpResponse) => {
    if (r.done) return;
    r.done = true;
    const i = queue.indexOf(r);
    if (i >= 0) queue.splice(i, 1);
    if (error) r.reject(error);
    else r.resolve(response!);
  };

  /** Restarts the stall clock of a busy connection (a byte came, or a request went out). */
  const watch = (c: HttpConn) => {
    if (c.stallTimer !== null) timers.clearTimeout(c.stallTimer);
    c.stalled = false;
    c.stallTimer = timers.setTimeout(() => {
      c.stallTimer = null;
      if (c.busy === null || c.closed) return;
      c.stalled = true;
      pump();
    }, Math.min(options.stallMs, Math.max(1, options.rtoMs?.() ?? Infinity)));
  };

  const unwatch = (c: HttpConn) => {
    if (c.stallTimer !== null) timers.clearTimeout(c.stallTimer);
    c.stallTimer = null;
    c.stalled = false;
  };

  const shut = (c: HttpConn, why: string, requeue = false) => {
    if (c.closed) return;
    c.closed = true;
    const i = conns.indexOf(c);
    if (i >= 0) conns.splice(i, 1);
    if (c.idleTimer !== null) timers.clearTimeout(c.idleTimer);
    if (c.drainTimer !== null) timers.clearTimeout(c.drainTimer);
    unwatch(c);
    c.stream?.close();
    const r = c.busy;
    c.busy = null;
    if (r && !r.done) {
      if ((c.reused || requeue) && !r.retried) {
        r.retried = true;
        counters.upstream_requeued++;
        queue.unshift(r);
      } else finish(r, new HoldfastError(ErrorCode.upstreamNetwork, `upstream: HTTP connection to ${options.label} closed before a response (${why})`));
    }
    pump();
  };

  const idle = (c: HttpConn) => {
    if (c.idleTimer !== null) timers.clearTimeout(c.idleTimer);
    c.idleTimer = timers.setTimeout(() => {
      c.idleTimer = null;
      if (c.busy === null) {
        counters.upstream_connections_idle_closed++;
        shut(c, 'idle');
      }
    }, options.idleTimeoutMs);
  };

  const onResponse = (c: HttpConn, res: HttpResponse) => {
    const r = c.busy;
    c.busy = null;
    c.reused = true;
    unwatch(c);
    if (c.drainTimer !== null) {
      timers.clearTimeout(c.drainTimer);
      c.drainTimer = null;
    }
    if (r) finish(r, null, res);
    if (!res.keepAlive) shut(c, 'the server asked to close');
    else {
      idle(c);
      pump();
    }
  };

  const assign = (c: HttpConn, r: Pending) => {
    c.busy = r;
    if (c.idleTimer !== null) {
      timers.clearTimeout(c.idleTimer);
      c.idleTimer = null;
    }
    watch(c);
    c.stream!.write(r.bytes);
  };

  const failWaiting = (e: HoldfastError) => {
    for (const r of [...queue]) finish(r, e);
  };

  const open = () => {
    opening++;
    const c: HttpConn = {
      stream: null,
      reader: createResponseReader(
        { maxHeadBytes: MAX_HEAD_BYTES, maxBodyBytes: options.maxBodyBytes },
        (res) => onResponse(c, res),
        (why) => shut(c, `unreadable response: ${why}`),
      ),
      busy: null,
      reused: false,
      closed: false,
      idleTimer: null,
      drainTimer: null,
      stallTimer: null,
      stalled: false,
    };
    options
      .dial({
        onData: (bytes) => {
          if (!c.stream || c.closed) return;
          if (c.busy !== null) watch(c);
          c.reader.push(bytes);
        },
        onClose: () => {
          if (!c.stream || c.closed) return;
          c.reader.end();
          shut(c, 'closed by the server');
        },
      })
      .then(
        (stream) => {
          opening--;
          c.stream = stream;
          connectFailures = 0;
          lastConnectError = null;
          counters.upstream_connections++;
          conns.push(c);
          idle(c);
          pump();
        },
        (e: unknown) => {
          opening--;
          counters.upstream_connect_failures++;
          connectFailures++;
          lastConnectError =
            e instanceof HoldfastError ? e : new HoldfastError(ErrorCode.upstreamNetwork, `upstream: cannot connect to ${options.label} (${e instanceof Error ? e.message : String(e)})`);
          const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (connectFailures - 1));
          retryAtMs = clock.now() + backoff * (0.5 + ports.entropy.random() / 2);
          // Those waiting get this failure, unless another connection is open to serve them.
          if (conns.length === 0 && opening === 0) failWaiting(lastConnectError);
        },
      );
  };

  /** Hands queued requests to free connections, opening more while allowed. */
  function pump(): void {
    while (queue.length > 0) {
      const free = conns.find((c) => c.busy === null && !c.closed);
      if (free) {
        assign(free, queue.shift()!);
        continue;
      }
      // Stalled connections are not counted, but never more than twice `connections` in all.
      const counted = conns.filter((c) => !c.stalled).length + opening;
      if (counted < options.connections && conns.length + opening < 2 * options.connections && opening < queue.length) {
        if (clock.now() < retryAtMs && lastConnectError) {
          if (conns.length === 0 && opening === 0) failWaiting(lastConnectError);
          return;
        }
        open();
        continue;
      }
      return;
    }
  }

  return {
    send(bytes, timeoutMs, signal) {
      return new Promise<HttpResponse>((resolve, reject) => {
        // Null while startDeadline runs: a signal already aborted ends the wait inside it.
        let deadline: Deadline | null = null;
        const r: Pending = {
          bytes,
          resolve: (v) => {
            deadline?.cancel();
            resolve(v);
          },
          reject: (e) => {
            deadline?.cancel();
            reject(e);
          },
          done: false,
          retried: false,
        };
        const stop = (e: HoldfastError, closeConn: boolean) => {
          const c = conns.find((x) => x.busy === r);
          finish(r, e);
          if (!c) return;
          if (closeConn) shut(c, 'request timed out');
          else if (c.drainTimer === null) {
            c.drainTimer = timers.setTimeout(() => {
              c.drainTimer = null;
              if (c.busy === r) shut(c, 'no response to a stopped request');
            }, options.drainMs);
          }
        };
        // A request past its time takes its connection down with it; an abandoned one may still
        // be answered, so its connection gets a moment to drain.
        deadline = startDeadline(timers, timeoutMs, () => `upstream: no HTTP response within ${timeoutMs} ms (${options.label})`, (e) => stop(e, e.code === ErrorCode.upstreamTimeout), signal);
        if (r.done) return;
        queue.push(r);
        pump();
      });
    },
    reset() {
      connectFailures = 0;
      retryAtMs = -Infinity;
      lastConnectError = null;
      for (const c of [...conns]) shut(c, 'the network changed', true);
    },
    close() {
      for (const c of [...conns]) shut(c, 'shutting down');
      failWaiting(new HoldfastError(ErrorCode.upstreamNetwork, `upstream: ${options.label} closed`));
    },
  };
}
