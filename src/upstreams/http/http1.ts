// The little of HTTP/1.1 (RFC 9112) that DNS over HTTPS needs: a request with a body or a
// query string, and an incremental reader of responses with a Content-Length, a chunked body,
// or a body that ends when the connection does. One request at a time per connection; no
// pipelining, which many servers handle badly.

import { appendBytes } from '../../core/stream-framer.ts';

const CRLF = '\r\n';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  /** Path with any query string. */
  readonly target: string;
  /** The Host header (RFC 9112 §3.2: required in HTTP/1.1). */
  readonly authority: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body?: Uint8Array;
}

export function encodeRequest(r: HttpRequest): Uint8Array {
  let head = `${r.method} ${r.target} HTTP/1.1${CRLF}Host: ${r.authority}${CRLF}`;
  for (const [name, value] of r.headers) head += `${name}: ${value}${CRLF}`;
  if (r.body) head += `Content-Length: ${r.body.length}${CRLF}`;
  head += CRLF;
  const headBytes = encoder.encode(head);
  if (!r.body) return headBytes;
  const out = new Uint8Array(headBytes.length + r.body.length);
  out.set(headBytes);
  out.set(r.body, headBytes.length);
  return out;
}

export interface HttpResponse {
  readonly status: number;
  readonly reason: string;
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Uint8Array;
  /** May the connection carry another request? */
  readonly keepAlive: boolean;
}

export interface ResponseReader {
  push(chunk: Uint8Array): void;
  /** The connection closed: completes a body that runs to the end of the connection. */
  end(): void;
  /** Bytes of an unfinished response held (0 between responses). */
  readonly pending: number;
}

export interface ReaderLimits {
  readonly maxHeadBytes: number;
  readonly maxBodyBytes: number;
}

type BodyMode = { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' };

/** Base64url without padding (RFC 8484 §4.1: the `dns` parameter of a GET). */
export function base64url(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function indexOfCrlf(b: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 1 < to; i++) if (b[i] === 13 && b[i + 1] === 10) return i;
  return -1;
}

/**
 * Calls `onResponse` for each whole response, or `onError` once (and stops) for a malformed
 * or oversized one: the connection cannot be trusted after that.
 */
export function createResponseReader(limits: ReaderLimits, onResponse: (r: HttpResponse) => void, onError: (why: string) => void): ResponseReader {
  let buf: Uint8Array = new Uint8Array(0);
  let stopped = false;
  // The response being read: its head once parsed, and its body so far.
  let head: { status: number; reason: string; headers: Map<string, string>; keepAlive: boolean } | null = null;
  let mode: BodyMode | null = null;
  let body: Uint8Array[] = [];
  let bodyBytes = 0;
  /** Chunked: bytes of the current chunk still to come, -1 before a size line, -2 in trailers. */
  let chunkLeft = -1;

  const fail = (why: string) => {
    stopped = true;
    buf = new Uint8Array(0);
    onError(why);
  };

  const complete = () => {
    const whole = new Uint8Array(bodyBytes);
    let at = 0;
    for (const part of body) {
      whole.set(part, at);
      at += part.length;
    }
    const h = head!;
    head = null;
    mode = null;
    body = [];
    bodyBytes = 0;
    chunkLeft = -1;
    onResponse({ status: h.status, reason: h.reason, headers: h.headers, body: whole, keepAlive: h.keepAlive });
  };

  const addBody = (part: Uint8Array): boolean => {
    bodyBytes += part.length;
    if (bodyBytes > limits.maxBodyBytes) {
      fail(`body over ${limits.maxBodyBytes} bytes`);
      return false;
    }
    body.push(part);
    return true;
  };

  /** Parses a head at the start of `buf`; returns bytes used, 0 if incomplete, -1 on error. */
  const parseHead = (): number => {
    let end = -1;
    for (let i = 0; i + 3 < buf.length; i++) {
      if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) {
        end = i;
        break;
      }
    }
    if (end < 0) {
      if (buf.length > limits.maxHeadBytes) fail(`headers over ${limits.maxHeadBytes} bytes`);
      return 0;
    }
    const lines = decoder.decode(buf.subarray(0, end)).split(CRLF);
    const status = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
    if (!status) {
      fail(`not an HTTP/1.x status line: "${lines[0].slice(0, 40)}"`);
      return -1;
    }
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) {
        fail(`malformed header line "${line.slice(0, 40)}"`);
        return -1;
      }
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const before = headers.get(name);
      headers.set(name, before === undefined ? value : `${before}, ${value}`);
    }
    const code = Number(status[2]);
    const connection = (headers.get('connection') ?? '').toLowerCase();
    const keepAlive = status[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    head = { status: code, reason: status[3] ?? '', headers, keepAlive };
    const te = (headers.get('transfer-encoding') ?? '').toLowerCase();
    const length = headers.get('content-length');
    // RFC 9112 §6.3: 1xx, 204 and 304 have no body; chunked wins over Content-Length.
    if ((code >= 100 && code < 200) || code === 204 || code === 304) mode = { kind: 'length', left: 0 };
    else if (te !== '') {
      if (!/(^|,)\s*chunked\s*$/.test(te)) {
        fail(`unsupported Transfer-Encoding "${te}"`);
        return -1;
      }
      mode = { kind: 'chunked' };
    } else if (length !== undefined) {
      if (!/^\d{1,10}$/.test(length)) {
        fail(`malformed Content-Length "${length}"`);
        return -1;
      }
      mode = { kind: 'length', left: Number(length) };
      if (mode.left > limits.maxBodyBytes) {
        fail(`body over ${limits.maxBodyBytes} bytes`);
        return -1;
      }
    } else {
      mode = { kind: 'close' };
      head.keepAlive = false;
    }
    return end + 4;
  };

  /** Reads body bytes from `buf` at `p`; returns the new offset, or -1 if stopped. */
  const readBody = (p: number): number => {
    const m = mode!;
    if (m.kind === 'length') {
      const take = Math.min(m.left, buf.length - p);
      if (take > 0 && !addBody(buf.slice(p, p + take))) return -1;
      m.left -= take;
      p += take;
      if (m.left === 0) {
        const informational = head!.status >= 100 && head!.status < 200;
        if (informational) {
          // A 1xx is followed by the real response on the same connection.
          head = null;
          mode = null;
        } else complete();
      }
      return p;
    }
    if (m.kind === 'close') {
      if (p < buf.length && !addBody(buf.slice(p))) return -1;
      return buf.length;
    }
    for (;;) {
      if (chunkLeft > 0) {
        const take = Math.min(chunkLeft, buf.length - p);
        if (take === 0) return p;
        if (!addBody(buf.slice(p, p + take))) return -1;
        chunkLeft -= take;
        p += take;
        if (chunkLeft > 0) return p;
        chunkLeft = -3; // the CRLF after the chunk's data
      }
      const eol = indexOfCrlf(buf, p, buf.length);
      if (eol < 0) {
        if (buf.length - p > 1024) fail('chunk line too long');
        return stopped ? -1 : p;
      }
      const line = decoder.decode(buf.subarray(p, eol));
      p = eol + 2;
      if (chunkLeft === -3) {
        if (line !== '') {
          fail('chunk data not followed by CRLF');
          return -1;
        }
        chunkLeft = -1;
      } else if (chunkLeft === -2) {
        // Trailer fields, ignored, up to the empty line that ends the message.
        if (line === '') {
          complete();
          return p;
        }
      } else {
        const size = /^([0-9a-fA-F]{1,8})[ \t]*(;.*)?$/.exec(line);
        if (!size) {
          fail(`malformed chunk size "${line.slice(0, 20)}"`);
          return -1;
        }
        chunkLeft = parseInt(size[1], 16);
        if (chunkLeft === 0) chunkLeft = -2;
      }
    }
  };

  return {
    push(chunk) {
      if (stopped) return;
      buf = appendBytes(buf, chunk);
      let p = 0;
      while (!stopped) {
        if (head === null) {
          if (p > 0) {
            buf = buf.slice(p);
            p = 0;
          }
          const used = parseHead();
          if (used <= 0) return;
          p = used;
        }
        const next = readBody(p);
        if (next < 0) return;
        const progressed = next !== p || head === null;
        p = next;
        if (head !== null && !progressed) break;
        if (head !== null && p >= buf.length) break;
      }
      if (!stopped) buf = p >= buf.length ? new Uint8Array(0) : buf.slice(p);
    },
    end() {
      if (stopped) return;
      if (head !== null && mode?.kind === 'close') complete();
      else if (head !== null || buf.length > 0) fail('connection closed in the middle of a response');
      stopped = true;
    },
    get pending() {
      return buf.length + bodyBytes;
    },
  };
}
