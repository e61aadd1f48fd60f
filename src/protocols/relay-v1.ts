// Relay protocol v1 (docs/relay.md): a batch of DNS questions in one JSON body over HTTP/1.1.
// Pure encode/decode of the request, the response and the info document; HTTP, gzip and
// sockets live elsewhere. Decoders return a value or throw a RelayProtocolError naming what is
// wrong, so the server can answer 400 and the client can fail the batch.

export const RELAY_VERSION = 1;

/** The per-item error codes the protocol defines; nothing else goes on the wire. */
export const RelayErrorCode = {
  badRequest: 'bad_request',
  unauthorized: 'unauthorized',
  tooLarge: 'too_large',
  timeout: 'timeout',
  upstreamError: 'upstream_error',
  protocolError: 'protocol_error',
  internalError: 'internal_error',
  rateLimited: 'rate_limited',
} as const;
export type RelayErrorCode = (typeof RelayErrorCode)[keyof typeof RelayErrorCode];
const ERROR_CODES = new Set<string>(Object.values(RelayErrorCode));

export interface RelayLimits {
  /** Items in one request; more and the whole request is refused (400). */
  readonly max_items: number;
  /** The request body after decompression; more is 413. */
  readonly max_request_bytes: number;
  /** One item's DNS message; more and that item fails with too_large. */
  readonly per_item_max_wire_bytes: number;
  /** The response body the relay will produce at most. */
  readonly max_response_bytes: number;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  max_items: 32,
  max_request_bytes: 65536,
  per_item_max_wire_bytes: 4096,
  max_response_bytes: 262144,
};
const LIMIT_KEYS = ['max_items', 'max_request_bytes', 'per_item_max_wire_bytes', 'max_response_bytes'] as const;

export interface RelayRequestItem {
  readonly id: string;
  /** The DNS query in wire format; undefined when the item's `q` was not valid base64. */
  readonly q: Uint8Array | undefined;
}

export interface RelayRequest {
  readonly id: string;
  readonly items: readonly RelayRequestItem[];
  readonly meta?: Record<string, unknown>;
}

export type RelayResultItem = { readonly id: string; readonly ok: true; readonly a: Uint8Array } | { readonly id: string; readonly ok: false; readonly err: string };

export interface RelayResponse {
  readonly id: string;
  readonly items: readonly RelayResultItem[];
}

export interface RelayInfo {
  readonly v: number;
  readonly limits: RelayLimits;
  readonly auth_required: boolean;
}

export class RelayProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RelayProtocolError';
  }
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard base64 (RFC 4648 §4) with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

/** Strict standard base64: padded, no whitespace, no URL alphabet; null when it is not. */
export function decodeBase64(text: string): Uint8Array | null {
  if (!STRICT_BASE64.test(text)) return null;
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function parseObject(body: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(body));
  } catch {
    throw new RelayProtocolError(`${what} is not JSON in UTF-8`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RelayProtocolError(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function checkVersion(o: Record<string, unknown>, what: string): void {
  if (o.v !== RELAY_VERSION) throw new RelayProtocolError(`${what} has v=${JSON.stringify(o.v)}, expected ${RELAY_VERSION}`);
}

export function encodeRelayRequest(r: RelayRequest): Uint8Array {
  const body: Record<string, unknown> = { v: RELAY_VERSION, id: r.id, items: r.items.map((i) => ({ id: i.id, q: encodeBase64(i.q ?? new Uint8Array(0)) })) };
  if (r.meta !== undefined) body.meta = r.meta;
  return encoder.encode(JSON.stringify(body));
}

/**
 * The request as the server sees it. The shape must be right (else the whole request is bad);
 * an item whose `q` is not base64 still decodes, with `q` undefined, so only it fails.
 */
export function decodeRelayRequest(body: Uint8Array): RelayRequest {
  const o = parseObject(body, 'request');
  checkVersion(o, 'request');
  if (typeof o.id !== 'string') throw new RelayProtocolError('request has no string "id"');
  if (!Array.isArray(o.items)) throw new RelayProtocolError('request has no "items" array');
  const seen = new Set<string>();
  const items = o.items.map((raw, n): RelayRequestItem => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RelayProtocolError(`item ${n} is not an object`);
    const item = raw as Record<string, unknown>;
    if (typeof item.id !== 'string') throw new RelayProtocolError(`item ${n} has no string "id"`);
    // Answers are matched to questions by id: two alike would make that ambiguous.
    if (seen.has(item.id)) throw new RelayProtocolError(`item id "${item.id}" appears twice`);
    seen.add(item.id);
    if (typeof item.q !== 'string') throw new RelayProtocolError(`item "${item.id}" has no string "q"`);
    return { id: item.id, q: decodeBase64(item.q) ?? undefined };
  });
  const meta = typeof o.meta === 'object' && o.meta !== null && !Array.isArray(o.meta) ? (o.meta as Record<string, unknown>) : undefined;
  return meta ? { id: o.id, items, meta } : { id: o.id, items };
}

export function encodeRelayResponse(r: RelayResponse): Uint8Array {
  const items = r.items.map((i) => (i.ok ? { id: i.id, ok: true, a: encodeBase64(i.a) } : { id: i.id, ok: false, err: i.err }));
  return encoder.encode(JSON.stringify({ v: RELAY_VERSION, id: r.id, items }));
}

/**
 * The response as the client sees it: v=1, and (given `sentIds`) an entry for every item sent;
 * an ok entry needs strict base64 in `a`. Entries for ids not sent are ignored. An unknown `err`
 * string is kept as it is (a newer relay may add codes; the item fails either way).
 */
export function decodeRelayResponse(body: Uint8Array, sentIds?: readonly string[]): RelayResponse {
  const o = parseObject(body, 'response');
  checkVersion(o, 'response');
  if (typeof o.id !== 'string') throw new RelayProtocolError('response has no string "id"');
  if (!Array.isArray(o.items)) throw new RelayProtocolError('response has no "items" array');
  const byId = new Map<string, RelayResultItem>();
  o.items.forEach((raw, n) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RelayProtocolError(`response item ${n} is not an object`);
    const item = raw as Record<string, unknown>;
    if (typeof item.id !== 'string') throw new RelayProtocolError(`response item ${n} has no string "id"`);
    if (item.ok === true) {
      const a = typeof item.a === 'string' ? decodeBase64(item.a) : null;
      if (!a) throw new RelayProtocolError(`response item "${item.id}" is ok but "a" is not strict base64`);
      byId.set(item.id, { id: item.id, ok: true, a });
    } else if (item.ok === false) {
      byId.set(item.id, { id: item.id, ok: false, err: typeof item.err === 'string' ? item.err : RelayErrorCode.internalError });
    } else throw new RelayProtocolError(`response item "${item.id}" has no boolean "ok"`);
  });
  if (sentIds) {
    const missing = sentIds.filter((id) => !byId.has(id));
    if (missing.length > 0) throw new RelayProtocolError(`response has no entry for item${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')}`);
    return { id: o.id, items: sentIds.map((id) => byId.get(id)!) };
  }
  return { id: o.id, items: [...byId.values()] };
}

/** Is `code` one the protocol defines? */
export function isRelayErrorCode(code: string): code is RelayErrorCode {
  return ERROR_CODES.has(code);
}

export function encodeRelayInfo(limits: RelayLimits, authRequired: boolean): Uint8Array {
  return encoder.encode(JSON.stringify({ v: RELAY_VERSION, limits: { ...limits }, auth_required: authRequired }));
}

/**
 * The info document. The version and limits are returned as found (not checked here), so the
 * start-up check can say exactly what is wrong; a limit that is absent or not a number is NaN.
 */
export function decodeRelayInfo(body: Uint8Array): RelayInfo {
  const o = parseObject(body, 'info');
  const raw = typeof o.limits === 'object' && o.limits !== null ? (o.limits as Record<string, unknown>) : {};
  const limits = Object.fromEntries(LIMIT_KEYS.map((k) => [k, typeof raw[k] === 'number' ? raw[k] : NaN])) as unknown as RelayLimits;
  return { v: typeof o.v === 'number' ? o.v : NaN, limits, auth_required: o.auth_required === true };
}

/**
 * What is wrong with a relay's info for a client with these limits; empty when it fits. The
 * `require` mode refuses to start on any of these.
 */
export function checkRelayInfo(info: RelayInfo, client: RelayLimits): string[] {
  const problems: string[] = [];
  if (info.v !== RELAY_VERSION) problems.push(`relay speaks version ${info.v}, this client ${RELAY_VERSION}`);
  for (const k of LIMIT_KEYS) {
    const theirs = info.limits[k];
    if (!Number.isFinite(theirs) || theirs <= 0) problems.push(`relay limit ${k} is missing or not positive`);
    else if (client[k] > theirs) problems.push(`client ${k} ${client[k]} is larger than the relay's ${theirs}`);
  }
  return problems;
}

/** Bytes one item adds to a request body, so a batch can be cut before max_request_bytes. */
export function relayItemBytes(id: string, queryBytes: number): number {
  // {"id":"ID","q":"BASE64"}, plus a comma.
  return 17 + id.length + 4 * Math.ceil(queryBytes / 3);
}

/** Bytes of a request body around its items. */
export function relayEnvelopeBytes(requestId: string): number {
  // {"v":1,"id":"ID","items":[]}
  return 26 + requestId.length;
}
