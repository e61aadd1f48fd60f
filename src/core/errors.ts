// One error class for the whole program. Tests and callers branch on `code`, never on the
// message; `rcode` is what handle() answers with when this error ends a query.

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

export const ErrorCode = {
  malformed: 'HF_MALFORMED',
  notImplemented: 'HF_NOTIMP',
  badVersion: 'HF_BADVERS',
  upstreamTimeout: 'HF_UPSTREAM_TIMEOUT',
  upstreamNetwork: 'HF_UPSTREAM_NETWORK',
  /**
   * The upstream's host said no one is there: ICMP port unreachable on UDP, a reset to TCP's
   * SYN. An answer, not a loss: the query goes elsewhere at once.
   */
  upstreamRefused: 'HF_UPSTREAM_REFUSED',
  upstreamBadReply: 'HF_UPSTREAM_BAD_REPLY',
  /** A TLS connection could not be made or was refused: handshake, certificate, name, pin. */
  upstreamTls: 'HF_UPSTREAM_TLS',
  /** The HTTP proxy in front of the TLS upstreams refused the tunnel (CONNECT) or did not speak HTTP. */
  upstreamProxy: 'HF_UPSTREAM_PROXY',
  /** A DoH server answered with an HTTP status other than 200, or not in HTTP/1.1. */
  upstreamHttp: 'HF_UPSTREAM_HTTP',
  /** A relay answered the batch but could not answer this one question (an `ok: false` item). */
  upstreamRelayItem: 'HF_UPSTREAM_RELAY_ITEM',
  upstreamsExhausted: 'HF_UPSTREAMS_EXHAUSTED',
  /** Every upstream's breaker is open, or the in-flight limits are reached: failing fast. */
  upstreamsUnavailable: 'HF_UPSTREAMS_UNAVAILABLE',
  /** A copy of a hedged query stopped because another copy was answered. */
  upstreamAborted: 'HF_UPSTREAM_ABORTED',
  config: 'HF_CONFIG',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class HoldfastError extends Error {
  readonly code: ErrorCode;
  readonly rcode: number;
  constructor(code: ErrorCode, message: string, rcode: number = Rcode.SERVFAIL) {
    super(message);
    this.name = 'HoldfastError';
    this.code = code;
    this.rcode = rcode;
  }
}

export function isHoldfastError(e: unknown, code?: ErrorCode): e is HoldfastError {
  return e instanceof HoldfastError && (code === undefined || e.code === code);
}
