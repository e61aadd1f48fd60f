// The relay server (relay protocol v1, docs/relay.md) as a Fetch API handler, so the same code
// serves `holdfast relay` on Node, Deno and Bun and runs on a serverless platform. Each item is
// answered through `resolve` (Holdfast's own pipeline: cache and upstreams); one item's failure
// is that item's `ok: false`, never the batch's.

import { isHoldfastError, ErrorCode } from '../../core/errors.ts';
import {
  decodeRelayRequest,
  DEFAULT_RELAY_LIMITS,
  encodeRelayInfo,
  encodeRelayResponse,
  RelayErrorCode,
  RelayProtocolError,
  type RelayLimits,
  type RelayResultItem,
} from '../../protocols/relay-v1.ts';
import { asBody as body, gzip, readCapped } from '../../upstreams/relay/gzip.ts';
import { createBearerCheck } from '../http/auth.ts';

/** Answers one DNS query in wire format; rejects (a HoldfastError, ideally) when it cannot. */
export type RelayResolve = (query: Uint8Array, client: { address: string; port: number }) => Promise<Uint8Array | null>;

export interface RelayHandlerOptions {
  readonly resolve: RelayResolve;
  readonly limits?: RelayLimits;
  /** Required as `Authorization: Bearer TOKEN` on /v1/dns; null: no authentication. */
  readonly token?: string | null;
  /** The path before /v1/ (e.g. "/relay"); a trailing "/" is dropped. Default: none. */
  readonly basePath?: string;
  /**
   * May `from` have one more item answered now (a per-client rate limit)? An item refused is
   * that item's `rate_limited`, costing no lookup. Default: every item.
   */
  readonly admitItem?: (from: { address: string; port: number }) => boolean;
}

export type RelayFetch = (request: Request, from?: { address: string; port: number }) => Promise<Response>;

const JSON_TYPE = 'application/json';
/** The smallest DNS message: a header (RFC 1035 §4.1.1). */
const DNS_HEADER_BYTES = 12;

function plain(status: number, text: string, extra: Record<string, string> = {}): Response {
  return new Response(`${text}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...extra } });
}

/** Does Accept-Encoding allow gzip (RFC 9110 §12.5.3: present with q above 0)? */
function acceptsGzip(header: string | null): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (name.trim() !== 'gzip' && name.trim() !== 'x-gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

function itemError(e: unknown): string {
  if (isHoldfastError(e, ErrorCode.upstreamTimeout)) return RelayErrorCode.timeout;
  if (isHoldfastError(e, ErrorCode.malformed)) return RelayErrorCode.badRequest;
  if (isHoldfastError(e)) return RelayErrorCode.upstreamError;
  return RelayErrorCode.internalError;
}

export function createRelayHandler(options: RelayHandlerOptions): RelayFetch {
  const limits = options.limits ?? DEFAULT_RELAY_LIMITS;
  for (const [k, v] of Object.entries(limits)) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`relay: limit ${k} must be a positive integer, not ${v}`);
  }
  const token = options.token ?? null;
  const authorized = createBearerCheck(token);
  const admitItem = options.admitItem;
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  const dnsPath = `${base}/v1/dns`;
  const infoPath = `${base}/v1/info`;

  const dns = async (request: Request, from: { address: string; port: number }): Promise<Response> => {
    if (!authorized(request.headers.get('authorization'))) return plain(401, 'unauthorized', { 'www-authenticate': 'Bearer' });
    // Only identity or one gzip: a stacked or other coding is 415 (the protocol says so).
    const coding = (request.headers.get('content-encoding') ?? '').trim().toLowerCase();
    if (coding !== '' && coding !== 'identity' && coding !== 'gzip') return plain(415, `unsupported content-encoding "${coding}"`);
    if (!request.body) return plain(400, 'no body');
    // The limit counts bytes after decompression, so a small gzip bomb is stopped at the cap.
    let bytes: Uint8Array | null;
    try {
      const stream = coding === 'gzip' ? request.body.pipeThrough(new DecompressionStream('gzip')) : request.body;
      bytes = await readCapped(stream, limits.max_request_bytes);
    } catch {
      return plain(400, coding === 'gzip' ? 'bad gzip body' : 'unreadable body');
    }
    if (bytes === null) return plain(413, `request body over max_request_bytes (${limits.max_request_bytes})`);
    let batch;
    try {
      batch = decodeRelayRequest(bytes);
    } catch (e) {
      if (e instanceof RelayProtocolError) return plain(400, e.message);
      throw e;
    }
    if (batch.items.length > limits.max_items) return plain(400, `${batch.items.length} items, over max_items (${limits.max_items})`);

    const results = await Promise.all(
      batch.items.map(async (item): Promise<RelayResultItem> => {
        if (item.q === undefined || item.q.length < DNS_HEADER_BYTES) return { id: item.id, ok: false, err: RelayErrorCode.badRequest };
        if (item.q.length > limits.per_item_max_wire_bytes) return { id: item.id, ok: false, err: RelayErrorCode.tooLarge };
        if (admitItem && !admitItem(from)) return { id: item.id, ok: false, err: RelayErrorCode.rateLimited };
        try {
          const a = await options.resolve(item.q, from);
          if (a === null) return { id: item.id, ok: false, err: RelayErrorCode.badRequest };
          if (a.length > limits.per_item_max_wire_bytes) return { id: item.id, ok: false, err: RelayErrorCode.tooLarge };
          return { id: item.id, ok: true, a };
        } catch (e) {
          return { id: item.id, ok: false, err: itemError(e) };
        }
      }),
    );
    // Keep the response under max_response_bytes: answers that would pass it become too_large.
    let budget = limits.max_response_bytes - 64 - batch.id.length;
    const bounded = results.map((r): RelayResultItem => {
      const cost = 40 + r.id.length + (r.ok ? 4 * Math.ceil(r.a.length / 3) : r.err.length);
      if (r.ok && cost > budget) return { id: r.id, ok: false, err: RelayErrorCode.tooLarge };
      budget -= r.ok ? cost : 40 + r.id.length + r.err.length;
      return r;
    });
    const out = encodeRelayResponse({ id: batch.id, items: bounded });
    const headers: Record<string, string> = { 'content-type': JSON_TYPE, vary: 'accept-encoding', 'cache-control': 'no-store' };
    if (acceptsGzip(request.headers.get('accept-encoding'))) {
      headers['content-encoding'] = 'gzip';
      return new Response(body(await gzip(out)), { status: 200, headers });
    }
    return new Response(body(out), { status: 200, headers });
  };

  return async (request, from = { address: '', port: 0 }) => {
    let path: string;
    try {
      path = new URL(request.url).pathname;
    } catch {
      return plain(400, 'bad request');
    }
    if (path === dnsPath) {
      if (request.method !== 'POST') return plain(405, 'POST only', { allow: 'POST' });
      try {
        return await dns(request, from);
      } catch {
        return plain(500, 'internal error');
      }
    }
    if (path === infoPath) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return plain(405, 'GET only', { allow: 'GET, HEAD' });
      // Info is public so a client can learn that a token is needed; a token that is given
      // must be right, so a client with a wrong one learns it at start (401), not per query.
      const given = request.headers.get('authorization');
      if (given !== null && !authorized(given)) return plain(401, 'unauthorized', { 'www-authenticate': 'Bearer' });
      return new Response(body(encodeRelayInfo(limits, token !== null)), { status: 200, headers: { 'content-type': JSON_TYPE, 'cache-control': 'no-store' } });
    }
    return plain(404, 'not found');
  };
}
