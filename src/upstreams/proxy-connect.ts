// A tunnel through an HTTP proxy (RFC 9110 §9.3.6, CONNECT) for the TLS upstreams: the request,
// and a reader of the proxy's reply head. Pure: an adapter moves the bytes (the `tunnel` of
// Network.connectTls) and starts TLS on the same connection once the tunnel is open.

import { ErrorCode, HoldfastError } from '../core/errors.ts';
import type { TlsTunnel } from '../core/ports.ts';
import { appendBytes } from '../core/stream-framer.ts';

const CRLF = '\r\n';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A reply head longer than this is no proxy we can talk to. */
export const MAX_CONNECT_REPLY_HEAD_BYTES = 8192;

export interface ProxyCredentials {
  readonly username: string;
  readonly password: string;
}

/** HOST:PORT as a request target and Host header: IPv6 in brackets (RFC 9110 §7.2). */
export function connectAuthority(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function base64(text: string): string {
  const bytes = encoder.encode(text);
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

/** RFC 9110 §9.3.6: the request-target of CONNECT is the authority alone, HOST:PORT. */
export function encodeConnect(authority: string, credentials?: ProxyCredentials | null): Uint8Array {
  let head = `CONNECT ${authority} HTTP/1.1${CRLF}Host: ${authority}${CRLF}User-Agent: holdfast${CRLF}`;
  // RFC 7617: Basic, the user and password joined by a colon, in UTF-8 (§2.1 charset).
  if (credentials) head += `Proxy-Authorization: Basic ${base64(`${credentials.username}:${credentials.password}`)}${CRLF}`;
  return encoder.encode(head + CRLF);
}

export interface ConnectReply {
  readonly status: number;
  readonly reason: string;
  /** Bytes that came after the head: the first of the tunnel. */
  readonly rest: Uint8Array;
}

export interface ConnectReplyReader {
  /**
   * The final reply once its head is whole, null while more bytes are needed. Throws an
   * upstreamProxy HoldfastError when the bytes are not an HTTP/1.x reply, or the head is too long.
   */
  push(chunk: Uint8Array): ConnectReply | null;
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: ([^\r\n]*))?$/;
const HTTP_PREFIX = encoder.encode('HTTP/');

/** A reason phrase comes from the network: printable ASCII only, and short, before it reaches a log. */
function printable(text: string, max = 80): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

export function createConnectReplyReader(proxyLabel: string, maxHeadBytes = MAX_CONNECT_REPLY_HEAD_BYTES): ConnectReplyReader {
  let buf: Uint8Array = new Uint8Array(0);
  const fail = (why: string) => new HoldfastError(ErrorCode.upstreamProxy, `proxy ${proxyLabel} ${why}`);
  return {
    push(chunk) {
      buf = appendBytes(buf, chunk);
      for (;;) {
        // Not HTTP at all (a TLS or SOCKS server on that port, say): said at once, not after 8 KB.
        for (let i = 0; i < Math.min(buf.length, HTTP_PREFIX.length); i++) {
          if (buf[i] !== HTTP_PREFIX[i]) throw fail(`did not answer CONNECT in HTTP (it sent "${printable(decoder.decode(buf.subarray(0, 16)), 16)}")`);
        }
        let end = -1;
        for (let i = 0; i + 3 < buf.length && i < maxHeadBytes; i++) {
          if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) {
            end = i;
            break;
          }
        }
        if (end < 0) {
          if (buf.length >= maxHeadBytes) throw fail(`answered CONNECT with a head over ${maxHeadBytes} bytes`);
          return null;
        }
        const lines = decoder.decode(buf.subarray(0, end)).split(CRLF);
        const status = STATUS_LINE.exec(lines[0]);
        if (!status) throw fail(`answered CONNECT with a malformed status line "${printable(lines[0], 40)}"`);
        for (const line of lines.slice(1)) {
          if (line.indexOf(':') <= 0) throw fail(`answered CONNECT with a malformed header line "${printable(line, 40)}"`);
        }
        const code = Number(status[1]);
        const rest = buf.slice(end + 4);
        // RFC 9110 §15.2: a client must read past any 1xx to the final reply.
        if (code >= 100 && code < 200) {
          buf = rest;
          continue;
        }
        buf = new Uint8Array(0);
        return { status: code, reason: printable(status[2] ?? ''), rest };
      }
    },
  };
}

/**
 * The tunnel an adapter opens before TLS: CONNECT to `authority`, then the proxy's reply. Any
 * 2xx opens it (RFC 9110 §9.3.6); anything else is the proxy's refusal, an upstreamProxy error.
 */
export function createTunnel(proxyLabel: string, authority: string, credentials?: ProxyCredentials | null): TlsTunnel {
  const reader = createConnectReplyReader(proxyLabel);
  return {
    request: encodeConnect(authority, credentials),
    reply(bytes) {
      const r = reader.push(bytes);
      if (r === null) return false;
      if (r.status < 200 || r.status > 299) {
        throw new HoldfastError(ErrorCode.upstreamProxy, `proxy ${proxyLabel} refused CONNECT to ${authority}: ${r.status}${r.reason ? ` ${r.reason}` : ''}`);
      }
      // The TLS client speaks first, so a server has nothing to send yet: these bytes are the
      // proxy's, and TLS cannot start on top of them.
      if (r.rest.length > 0) throw new HoldfastError(ErrorCode.upstreamProxy, `proxy ${proxyLabel} sent ${r.rest.length} bytes after its ${r.status} reply, before TLS began`);
      return true;
    },
  };
}
