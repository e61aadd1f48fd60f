// DNS over HTTPS (RFC 8484) on HTTP/1.1: a few keep-alive TLS connections per upstream, each
// carrying one request at a time. A copy waits for a free connection, or opens one while the
// upstream has fewer than `httpConnections`. Queries go out with ID 0 (RFC 8484 §4.1, so
// identical GETs can be cached); the HTTP exchange itself says which reply is whose.
//
// A status other than 200 is that upstream's failure, with the status in the error. A
// request on a reused connection that the server closed before answering (its keep-alive
// timeout raced our request) goes out once more on a fresh one. A copy stopped while its
// request is in flight leaves the connection busy until the response is read, so the next
// request does not get the previous one's answer.

import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { Counters } from '../../core/counters.ts';
import type { CorePorts, TimerHandle, TlsStream } from '../../core/ports.ts';
import { padQuery } from '../../core/wire/padding.ts';
import { MAX_TCP_MESSAGE } from '../../core/wire/reply.ts';
import { base64url, createResponseReader, encodeRequest, type HttpResponse, type ResponseReader } from './http1.ts';
import { replyMatches } from './reply-match.ts';
import type { UpstreamSpec } from './spec.ts';
import { createTlsDialer } from './tls-dialer.ts';
import type { EncryptedTransportSettings, Transport } from './transport.ts';

const MEDIA_TYPE = 'application/dns-message';
const MAX_HEAD_BYTES = 16 * 1024;
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 2_000;

interface Request {
  /** What was sent, with ID 0, for matching the reply. */
  readonly sent: Uint8Array;
  readonly bytes: Uint8Array;
  /** The caller's ID, put back in the reply. */
  readonly id: number;
  readonly resolve: (reply: Uint8Array) => void;
  readonly reject: (e: HoldfastError) => void;
  done: boolean;
  retried: boolean;
}

interface HttpConn {
  stream: TlsStream | null;
  readonly reader: ResponseReader;
  /** The request whose response is awaited; it may be done (stopped) already. */
  busy: Request | null;
  /** A response has been read on it: a close before the next one may be a keep-alive race. */
  reused: boolean;
  closed: boolean;
  idleTimer: TimerHandle | null;
  /** Set while a stopped request's response is still owed. */
  drainTimer: TimerHandle | null;
}

export function createDohTransport(spec: UpstreamSpec, settings: EncryptedTransportSettings, ports: CorePorts, counters: Counters): Transport {
  const { clock, timers } = ports;
  const http = spec.http!;
  // ALPN: ask for HTTP/1.1 explicitly, so a server that also speaks h2 does not pick it.
  const dialer = createTlsDialer(spec, settings, ports, ['http/1.1']);
  const conns: HttpConn[] = [];
  const queue: Request[] = [];
  let opening = 0;
  let connectFailures = 0;
  let retryAtMs = -Infinity;
  let lastConnectError: HoldfastError | null = null;

  const finish = (r: Request, error: HoldfastError | null, reply?: Uint8Array) => {
    if (r.done) return;
    r.done = true;
    const i = queue.indexOf(r);
    if (i >= 0) queue.splice(i, 1);
    if (error) r.reject(error);
    else r.resolve(reply!);
  };

  const shut = (c: HttpConn, why: string) => {
    if (c.closed) return;
    c.closed = true;
    const i = conns.indexOf(c);
    if (i >= 0) conns.splice(i, 1);
    if (c.idleTimer !== null) timers.clearTimeout(c.idleTimer);
    if (c.drainTimer !== null) timers.clearTimeout(c.drainTimer);
    c.stream?.close();
    const r = c.busy;
    c.busy = null;
    if (r && !r.done) {
      if (c.reused && !r.retried) {
        r.retried = true;
        counters.upstream_requeued++;
        queue.unshift(r);
      } else finish(r, new HoldfastError(ErrorCode.upstreamNetwork, `upstream: HTTPS connection to ${spec.label} closed before a response (${why})`));
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
    }, settings.idleTimeoutMs);
  };

  const onResponse = (c: HttpConn, res: HttpResponse) => {
    const r = c.busy;
    c.busy = null;
    c.reused = true;
    if (c.drainTimer !== null) {
      timers.clearTimeout(c.drainTimer);
      c.drainTimer = null;
    }
    if (r && !r.done) {
      if (res.status !== 200) {
        counters.upstream_http_errors++;
        finish(r, new HoldfastError(ErrorCode.upstreamHttp, `upstream: ${spec.label} answered HTTP ${res.status}${res.reason ? ` ${res.reason}` : ''}`));
      } else if (!replyMatches(res.body, r.sent)) {
        counters.upstream_mismatched_replies++;
        finish(r, new HoldfastError(ErrorCode.upstreamBadReply, `upstream: ${spec.label} sent a body that does not answer the query (${res.body.length} bytes)`));
      } else {
        const reply = res.body;
        reply[0] = r.id >> 8;
        reply[1] = r.id & 0xff;
        finish(r, null, reply);
      }
    }
    if (!res.keepAlive) shut(c, 'the server asked to close');
    else {
      idle(c);
      pump();
    }
  };

  const assign = (c: HttpConn, r: Request) => {
    c.busy = r;
    if (c.idleTimer !== null) {
      timers.clearTimeout(c.idleTimer);
      c.idleTimer = null;
    }
    c.stream!.write(r.bytes);
  };

  const open = () => {
    opening++;
    const c: HttpConn = {
      stream: null,
      reader: createResponseReader(
        { maxHeadBytes: MAX_HEAD_BYTES, maxBodyBytes: MAX_TCP_MESSAGE },
        (res) => onResponse(c, res),
        (why) => shut(c, `unreadable response: ${why}`),
      ),
      busy: null,
      reused: false,
      closed: false,
      idleTimer: null,
      drainTimer: null,
    };
    dialer
      .dial({
        onData: (bytes) => {
          if (c.stream && !c.closed) c.reader.push(bytes);
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
        (e: HoldfastError) => {
          opening--;
          counters.upstream_connect_failures++;
          connectFailures++;
          lastConnectError = e;
          const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (connectFailures - 1));
          retryAtMs = clock.now() + backoff * (0.5 + ports.entropy.random() / 2);
          // Those waiting for a connection get this one's failure, unless another is open to serve them.
          if (conns.length === 0 && opening === 0) for (const r of [...queue]) finish(r, e);
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
      if (conns.length + opening < settings.httpConnections && opening < queue.length) {
        if (clock.now() < retryAtMs && lastConnectError) {
          if (conns.length === 0 && opening === 0) for (const r of [...queue]) finish(r, lastConnectError);
          return;
        }
        open();
        continue;
      }
      return;
    }
  }

  const request = (sent: Uint8Array): Uint8Array => {
    const headers: Array<[string, string]> = [['Accept', MEDIA_TYPE]];
    if (http.method === 'GET') {
      const sep = http.path.includes('?') ? '&' : '?';
      return encodeRequest({ method: 'GET', target: `${http.path}${sep}dns=${base64url(sent)}`, authority: http.authority, headers });
    }
    headers.push(['Content-Type', MEDIA_TYPE]);
    return encodeRequest({ method: 'POST', target: http.path, authority: http.authority, headers, body: sent });
  };

  return {
    exchange(query, timeoutMs, signal) {
      return new Promise<Uint8Array>((resolve, reject) => {
        const zeroed = query.slice();
        zeroed[0] = zeroed[1] = 0;
        const sent = padQuery(zeroed, settings.paddingBlockBytes);
        const cleanup = () => {
          timers.clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        };
        const r: Request = {
          sent,
          bytes: request(sent),
          id: (query[0] << 8) | query[1],
          resolve: (v) => {
            cleanup();
            resolve(v);
          },
          reject: (e) => {
            cleanup();
            reject(e);
          },
          done: false,
          retried: false,
        };
        /** Stopped while in flight: the connection stays busy until the response, or a while. */
        const stop = (e: HoldfastError, closeConn: boolean) => {
          const c = conns.find((x) => x.busy === r);
          finish(r, e);
          if (!c) return;
          if (closeConn) shut(c, 'request timed out');
          else if (c.drainTimer === null) {
            c.drainTimer = timers.setTimeout(() => {
              c.drainTimer = null;
              if (c.busy === r) shut(c, 'no response to a stopped request');
            }, settings.silentConnectionMs);
          }
        };
        const onAbort = () => stop(new HoldfastError(ErrorCode.upstreamAborted, 'upstream: exchange abandoned'), false);
        const timer = timers.setTimeout(
          () => stop(new HoldfastError(ErrorCode.upstreamTimeout, `upstream: no reply over HTTPS within ${timeoutMs} ms (${spec.label})`), true),
          timeoutMs,
        );
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort);
        queue.push(r);
        pump();
      });
    },
    close() {
      for (const c of [...conns]) shut(c, 'shutting down');
      for (const r of [...queue]) finish(r, new HoldfastError(ErrorCode.upstreamNetwork, `upstream: ${spec.label} closed`));
    },
  };
}
