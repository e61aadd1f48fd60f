// The relay client (relay protocol v1, docs/relay.md): an upstream that gathers the questions
// arriving within a short window into one POST to BASE/v1/dns over keep-alive HTTP/1.1, and
// hands each copy its own item's answer. One item's failure (`ok: false`) fails that question
// only; a failed request (status, network, time-out, a response that breaks the protocol)
// fails every question it carried, and counts against the relay's health like any upstream's.
//
// At start the relay's /v1/info is checked (`infoCheck`): `require` refuses to start on a
// wrong token, another version or limits smaller than ours; `warn` logs and goes on; `off`
// skips it. Either way, once info is read, batches are cut to the smaller of both sides' limits.
// A relay out of reach at start is checked again before it is next used.

import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { Counters } from '../../core/counters.ts';
import type { CorePorts } from '../../core/ports.ts';
import { encodeRequest, type HttpResponse } from '../http/http1.ts';
import { createHttpPool, poolSettings } from '../http/pool.ts';
import { replyMatches } from '../reply-match.ts';
import type { UpstreamSpec } from '../spec.ts';
import { RelayInfoCheck, type EncryptedTransportSettings, type RelayClientSettings, type Transport } from '../transport.ts';
import { DEFAULT_CONFIG, type ServerConfig } from '../../config/config.ts';
import { createBatcher } from './batcher.ts';
import {
  checkRelayInfo,
  decodeRelayInfo,
  decodeRelayResponse,
  encodeRelayRequest,
  RelayProtocolError,
  relayEnvelopeBytes,
  relayItemBytes,
  type RelayLimits,
} from '../../protocols/relay-v1.ts';
import { createRelayDialer } from './dialer.ts';
import { gunzipCapped, gzip } from './gzip.ts';
import { startDeadline, type Deadline } from '../deadline.ts';

export { RelayInfoCheck, type RelayClientSettings };

/** The relay client's settings from the configuration's [relayUpstream] table. */
export function relayClientSettings(r: ServerConfig['relayUpstream']): RelayClientSettings {
  return {
    token: r.token,
    batchWindowMs: r.batchWindowMs,
    infoCheck: r.infoCheck,
    gzipMinBytes: r.gzipMinBytes,
    limits: { max_items: r.maxItems, max_request_bytes: r.maxRequestBytes, per_item_max_wire_bytes: r.perItemMaxWireBytes, max_response_bytes: r.maxResponseBytes },
  };
}

/** The settings table's defaults (src/config/settings.ts), the one place they are written. */
export const DEFAULT_RELAY_CLIENT: RelayClientSettings = relayClientSettings(DEFAULT_CONFIG.relayUpstream);

/** A relay that is out of reach at start is checked again at most this often. */
const INFO_RECHECK_MS = 30_000;
/**
 * How long the start waits for the info check. A router booting with its uplink down must
 * still start at once; a check that takes longer goes on behind, and its verdict applies.
 */
const PREFLIGHT_WAIT_MS = 2_000;
const JSON_TYPE = 'application/json';

interface Item {
  readonly id: string;
  readonly query: Uint8Array;
  readonly resolve: (reply: Uint8Array) => void;
  readonly reject: (e: HoldfastError) => void;
  /** When the copy that asked gives up: the batch's time-out is its items' latest. */
  readonly deadlineMs: number;
  /** What it adds to a request body. */
  readonly bytes: number;
  done: boolean;
}

type InfoState = { kind: 'unchecked'; nextAtMs: number } | { kind: 'checked' } | { kind: 'refused'; why: string };

export interface RelayTransport extends Transport {
  /** Checks /v1/info as `infoCheck` says; rejects with a config error when the relay must be refused. */
  preflight(): Promise<void>;
}

export function createRelayTransport(spec: UpstreamSpec, settings: EncryptedTransportSettings, ports: CorePorts, counters: Counters): RelayTransport {
  const { clock, timers } = ports;
  const relay = settings.relay ?? DEFAULT_RELAY_CLIENT;
  const http = spec.http!;
  const token = spec.relay!.token ?? relay.token;
  const dnsPath = `${spec.relay!.base}/v1/dns`;
  const infoPath = `${spec.relay!.base}/v1/info`;
  const ours = relay.limits;
  let limits: RelayLimits = ours;
  let info: InfoState = relay.infoCheck === 'off' ? { kind: 'checked' } : { kind: 'unchecked', nextAtMs: -Infinity };
  let checking: Promise<void> | null = null;
  let lastWarning: string | null = null;
  const prefix = `${Math.floor(ports.entropy.random() * 0xffffffff).toString(36)}-`;
  let seq = 0;

  const dialer = createRelayDialer(spec, settings, ports);
  const pool = createHttpPool(
    { ...poolSettings(spec.label, settings), maxBodyBytes: ours.max_response_bytes, dial: (handlers) => dialer.dial(handlers) },
    ports,
    counters,
  );

  const warnOnce = (message: string, code: HoldfastError['code'] | null = ErrorCode.upstreamHttp) => {
    if (message === lastWarning) return;
    lastWarning = message;
    settings.onEvent?.({ upstream: spec.label, kind: 'connect-failed', code, message });
  };

  const headers = (extra: Array<[string, string]> = []): Array<[string, string]> => {
    const h: Array<[string, string]> = [['Accept', JSON_TYPE], ...extra];
    if (token !== null) h.push(['Authorization', `Bearer ${token}`]);
    return h;
  };

  /** The response body, gunzipped if it came so, within max_response_bytes. */
  const bodyOf = async (res: HttpResponse): Promise<Uint8Array> => {
    const coding = (res.headers.get('content-encoding') ?? '').trim().toLowerCase();
    if (coding === '' || coding === 'identity') return res.body;
    if (coding !== 'gzip') throw new RelayProtocolError(`response has content-encoding "${coding}"`);
    let out: Uint8Array | null;
    try {
      out = await gunzipCapped(res.body, ours.max_response_bytes);
    } catch {
      throw new RelayProtocolError('response body is not valid gzip');
    }
    if (out === null) throw new RelayProtocolError(`response body is over ${ours.max_response_bytes} bytes once gunzipped`);
    return out;
  };

  /** What the relay's /v1/info says is wrong for us; throws when it cannot be read at all. */
  const readInfo = async (): Promise<string[]> => {
    const res = await pool.send(encodeRequest({ method: 'GET', target: infoPath, authority: http.authority, headers: headers() }), settings.connectTimeoutMs * 2);
    if (res.status === 401 || res.status === 403) return [`${infoPath} answered HTTP ${res.status}: the token is ${token === null ? 'missing (--relay-token)' : 'not accepted'}`];
    if (res.status === 404) return [`${infoPath} answered HTTP 404: no relay protocol v1 there (check the URL's path)`];
    if (res.status !== 200) throw new HoldfastError(ErrorCode.upstreamHttp, `upstream: ${spec.label} answered HTTP ${res.status} for ${infoPath}`);
    let problems: string[];
    try {
      const doc = decodeRelayInfo(await bodyOf(res));
      problems = checkRelayInfo(doc, ours);
      if (doc.auth_required && token === null) problems.push('the relay requires a token and none is set (--relay-token, or ?token= in the URL)');
      if (Number.isFinite(doc.v) && doc.v === 1) {
        // Whatever the mode, never send more than the relay takes.
        const theirs = doc.limits;
        limits = {
          max_items: Math.min(ours.max_items, theirs.max_items > 0 ? theirs.max_items : ours.max_items),
          max_request_bytes: Math.min(ours.max_request_bytes, theirs.max_request_bytes > 0 ? theirs.max_request_bytes : ours.max_request_bytes),
          per_item_max_wire_bytes: Math.min(ours.per_item_max_wire_bytes, theirs.per_item_max_wire_bytes > 0 ? theirs.per_item_max_wire_bytes : ours.per_item_max_wire_bytes),
          max_response_bytes: ours.max_response_bytes,
        };
        batcher.setLimits({ maxItems: limits.max_items, maxBytes: limits.max_request_bytes });
      }
    } catch (e) {
      if (!(e instanceof RelayProtocolError)) throw e;
      problems = [`${infoPath} is not relay info: ${e.message}`];
    }
    return problems;
  };

  /** Runs the info check once (callers share it); sets `info`, and throws a config error to refuse. */
  const check = (): Promise<void> => {
    checking ??= (async () => {
      let problems: string[];
      try {
        problems = await readInfo();
      } catch (e) {
        info = { kind: 'unchecked', nextAtMs: clock.now() + INFO_RECHECK_MS };
        warnOnce(`upstream: relay ${spec.label} could not be checked (${(e as Error).message}); it is used meanwhile and checked again before later batches`, (e as HoldfastError).code ?? null);
        return;
      }
      if (problems.length === 0) {
        info = { kind: 'checked' };
        if (lastWarning !== null) {
          lastWarning = null;
          settings.onEvent?.({ upstream: spec.label, kind: 'connected', code: null, message: `upstream: relay ${spec.label} passed its info check` });
        }
        return;
      }
      const why = problems.join('; ');
      if (relay.infoCheck === 'warn') {
        info = { kind: 'checked' };
        warnOnce(`upstream: relay ${spec.label} fails its info check (${why}); used anyway (relayUpstream.infoCheck = "warn")`);
        return;
      }
      info = { kind: 'refused', why };
      warnOnce(`upstream: relay ${spec.label} refused: ${why} (relayUpstream.infoCheck = "require"; "warn" would use it anyway)`, ErrorCode.config);
      throw new HoldfastError(ErrorCode.config, `upstream: relay ${spec.label} fails its info check: ${why} (relayUpstream.infoCheck = "require"; "warn" would use it anyway)`);
    })().finally(() => {
      checking = null;
    });
    return checking;
  };

  const settle = (item: Item, error: HoldfastError | null, reply?: Uint8Array) => {
    if (item.done) return;
    item.done = true;
    if (error) item.reject(error);
    else item.resolve(reply!);
  };

  const failAll = (items: readonly Item[], e: HoldfastError) => {
    for (const item of items) settle(item, e);
  };

  const answer = (item: Item, a: Uint8Array) => {
    // The HTTP exchange already pairs answers with questions; a relay that forwards through
    // DoH may hand back ID 0 (RFC 8484 §4.1), so the ID is ours to restore, the question not.
    const reply = a.slice();
    if (reply.length >= 2) {
      reply[0] = item.query[0];
      reply[1] = item.query[1];
    }
    if (!replyMatches(reply, item.query)) {
      counters.upstream_mismatched_replies++;
      settle(item, new HoldfastError(ErrorCode.upstreamBadReply, `upstream: relay ${spec.label} answered another question (${a.length} bytes)`));
      return;
    }
    settle(item, null, reply);
  };

  const send = async (items: Item[]): Promise<void> => {
    if (info.kind === 'unchecked' && clock.now() >= info.nextAtMs) {
      try {
        await check();
      } catch {
        // Refused: `info` says so below.
      }
    }
    if (info.kind === 'refused') return failAll(items, new HoldfastError(ErrorCode.upstreamHttp, `upstream: relay ${spec.label} is refused: ${info.why}`));
    const live = items.filter((i) => !i.done);
    if (live.length === 0) return;
    const requestId = `${prefix}${(seq++).toString(36)}`;
    let body = encodeRelayRequest({ id: requestId, items: live.map((i) => ({ id: i.id, q: i.query })) });
    const extra: Array<[string, string]> = [
      ['Content-Type', JSON_TYPE],
      ['Accept-Encoding', 'gzip'],
    ];
    if (body.length >= relay.gzipMinBytes) {
      body = await gzip(body);
      extra.push(['Content-Encoding', 'gzip']);
    }
    counters.relay_batches++;
    counters.relay_items += live.length;
    const timeoutMs = Math.max(1, Math.max(...live.map((i) => i.deadlineMs)) - clock.now());
    let res: HttpResponse;
    try {
      res = await pool.send(encodeRequest({ method: 'POST', target: dnsPath, authority: http.authority, headers: headers(extra), body }), timeoutMs);
    } catch (e) {
      return failAll(live, e instanceof HoldfastError ? e : new HoldfastError(ErrorCode.upstreamNetwork, `upstream: relay ${spec.label} failed (${String(e)})`));
    }
    if (res.status !== 200) {
      counters.upstream_http_errors++;
      const why =
        res.status === 401 || res.status === 403
          ? `refused the token (HTTP ${res.status})`
          : res.status === 413
            ? `found the batch too large (HTTP 413; ${live.length} items)`
            : `answered HTTP ${res.status}${res.reason ? ` ${res.reason}` : ''}`;
      if (res.status === 401 || res.status === 403) warnOnce(`upstream: relay ${spec.label} ${why}`);
      return failAll(live, new HoldfastError(ErrorCode.upstreamHttp, `upstream: relay ${spec.label} ${why}`));
    }
    let decoded;
    try {
      decoded = decodeRelayResponse(await bodyOf(res), live.map((i) => i.id));
      if (decoded.id !== requestId) throw new RelayProtocolError(`response is for request "${decoded.id}", not "${requestId}"`);
    } catch (e) {
      if (!(e instanceof RelayProtocolError)) throw e;
      counters.upstream_bad_replies++;
      // The whole response is unusable, and a relay that sends such is failing: the breaker hears of it.
      return failAll(live, new HoldfastError(ErrorCode.upstreamHttp, `upstream: relay ${spec.label} broke protocol v1: ${e.message}`));
    }
    decoded.items.forEach((r, n) => {
      const item = live[n];
      if (r.ok) answer(item, r.a);
      else {
        counters.relay_item_errors++;
        settle(item, new HoldfastError(ErrorCode.upstreamRelayItem, `upstream: relay ${spec.label} could not answer this question (${r.err})`));
      }
    });
  };

  // Items whose window has ended, waiting for a connection. HTTP/1.1 carries one request at a
  // time per connection: while all are busy (a slow or lossy link), what arrives meanwhile waits
  // here and goes as one request when one is free, instead of as many small requests queued
  // behind each other, each paying a round trip.
  let ready: Item[] = [];
  // Requests in flight, and those of them stalled (no answer for silentConnectionMs): a stalled
  // one no longer holds a place, as in the HTTP pool, so what is ready can go on another
  // connection, up to twice httpConnections in all. A link back from an outage, its old
  // connections still in TCP's back-off, then recovers on fresh ones.
  let requestsInFlight = 0;
  let requestsStalled = 0;
  const envelopeBytes = relayEnvelopeBytes(`${prefix}zzzzzz`);

  /** Sends what is ready while a connection is free, each request cut at the limits. */
  const pump = () => {
    while (requestsInFlight - requestsStalled < settings.httpConnections && requestsInFlight < 2 * settings.httpConnections) {
      ready = ready.filter((i) => !i.done);
      if (ready.length === 0) return;
      let take = 0;
      let bytes = envelopeBytes;
      while (take < ready.length && take < limits.max_items && (take === 0 || bytes + ready[take].bytes <= limits.max_request_bytes)) {
        bytes += ready[take].bytes;
        take++;
      }
      const batch = ready.slice(0, take);
      ready = ready.slice(take);
      requestsInFlight++;
      let stalled = false;
      const stallTimer = timers.setTimeout(() => {
        stalled = true;
        requestsStalled++;
        pump();
      }, settings.silentConnectionMs);
      send(batch)
        .catch((e) => failAll(batch, new HoldfastError(ErrorCode.upstreamNetwork, `upstream: relay ${spec.label} failed (${(e as Error).message})`)))
        .finally(() => {
          timers.clearTimeout(stallTimer);
          requestsInFlight--;
          if (stalled) requestsStalled--;
          pump();
        });
    }
  };

  const batcher = createBatcher<Item>({ windowMs: relay.batchWindowMs, envelopeBytes }, { maxItems: limits.max_items, maxBytes: limits.max_request_bytes }, timers, (items) => {
    ready.push(...items);
    pump();
  });

  return {
    preflight() {
      if (info.kind !== 'unchecked') return Promise.resolve();
      const verdict = check();
      return new Promise<void>((resolve, reject) => {
        const timer = timers.setTimeout(() => {
          // A refusal after the start is logged and fails the relay's questions from then on.
          warnOnce(`upstream: relay ${spec.label} has not answered its info check within ${PREFLIGHT_WAIT_MS} ms; starting, and the check goes on`, null);
          resolve();
        }, PREFLIGHT_WAIT_MS);
        verdict.then(
          () => {
            timers.clearTimeout(timer);
            resolve();
          },
          (e) => {
            timers.clearTimeout(timer);
            reject(e);
          },
        );
      });
    },
    exchange(query, timeoutMs, signal) {
      return new Promise<Uint8Array>((resolve, reject) => {
        if (info.kind === 'refused') return reject(new HoldfastError(ErrorCode.upstreamHttp, `upstream: relay ${spec.label} is refused: ${info.why}`));
        if (query.length > limits.per_item_max_wire_bytes) {
          return reject(new HoldfastError(ErrorCode.upstreamRelayItem, `upstream: a ${query.length}-byte query is over the relay's per_item_max_wire_bytes (${limits.per_item_max_wire_bytes})`));
        }
        // Null while startDeadline runs: a signal already aborted ends the wait inside it.
        let deadline: Deadline | null = null;
        const cleanup = () => {
          deadline?.cancel();
          batcher.remove(item);
        };
        const id = (seq++).toString(36);
        const item: Item = {
          id,
          bytes: relayItemBytes(id, query.length),
          query,
          deadlineMs: clock.now() + timeoutMs,
          resolve: (v) => {
            cleanup();
            resolve(v);
          },
          reject: (e) => {
            cleanup();
            reject(e);
          },
          done: false,
        };
        deadline = startDeadline(timers, timeoutMs, () => `upstream: no answer from relay ${spec.label} within ${timeoutMs} ms`, (e) => settle(item, e), signal);
        if (item.done) return;
        batcher.add(item, item.bytes);
      });
    },
    close() {
      pool.close();
    },
    reset() {
      pool.reset();
    },
  };
}
