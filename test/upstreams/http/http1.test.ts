import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { base64url, createResponseReader, encodeRequest, type HttpResponse } from '../../../src/upstreams/http/http1.ts';

const text = (s: string) => new TextEncoder().encode(s);
const LIMITS = { maxHeadBytes: 1024, maxBodyBytes: 100 };

function read(chunks: readonly Uint8Array[], end = false) {
  const got: HttpResponse[] = [];
  const errors: string[] = [];
  const r = createResponseReader(LIMITS, (x) => got.push(x), (e) => errors.push(e));
  for (const c of chunks) r.push(c);
  if (end) r.end();
  return { got, errors, pending: r.pending };
}

/** Every way of splitting `bytes` in two, and one byte at a time. */
function splits(bytes: Uint8Array): Uint8Array[][] {
  const out: Uint8Array[][] = [[...bytes].map((b) => Uint8Array.of(b))];
  for (let i = 1; i < bytes.length; i++) out.push([bytes.slice(0, i), bytes.slice(i)]);
  return out;
}

const bodyText = (r: HttpResponse) => new TextDecoder().decode(r.body);

describe('HTTP/1.1 request', () => {
  it('writes the request line, Host, the headers, Content-Length and the body', () => {
    const bytes = encodeRequest({ method: 'POST', target: '/dns-query', authority: 'dns.example', headers: [['Accept', 'application/dns-message']], body: Uint8Array.of(1, 2, 3) });
    const head = 'POST /dns-query HTTP/1.1\r\nHost: dns.example\r\nAccept: application/dns-message\r\nContent-Length: 3\r\n\r\n';
    assert.deepEqual(bytes, Uint8Array.of(...text(head), 1, 2, 3));
    assert.equal(new TextDecoder().decode(encodeRequest({ method: 'GET', target: '/q?dns=AA', authority: 'h', headers: [] })), 'GET /q?dns=AA HTTP/1.1\r\nHost: h\r\n\r\n');
  });

  it('encodes base64url without padding (RFC 8484 §4.1)', () => {
    assert.equal(base64url(Uint8Array.of(0xfb, 0xff, 0xfe)), '-__-');
    assert.equal(base64url(Uint8Array.of(0, 0)), 'AAA');
  });
});

describe('HTTP/1.1 response reader', () => {
  it('reads a Content-Length body however the bytes are split', () => {
    const bytes = text('HTTP/1.1 200 OK\r\nContent-Type: application/dns-message\r\nContent-Length: 5\r\n\r\nhello');
    for (const chunks of splits(bytes)) {
      const { got, errors, pending } = read(chunks);
      assert.deepEqual(errors, []);
      assert.equal(got.length, 1);
      assert.equal(got[0].status, 200);
      assert.equal(got[0].headers.get('content-type'), 'application/dns-message');
      assert.equal(bodyText(got[0]), 'hello');
      assert.equal(got[0].keepAlive, true);
      assert.equal(pending, 0);
    }
  });

  it('reads a chunked body with extensions and trailers, however split', () => {
    const bytes = text('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: 1\r\n\r\n');
    for (const chunks of splits(bytes)) {
      const { got, errors } = read(chunks);
      assert.deepEqual(errors, []);
      assert.equal(got.length, 1, 'one response');
      assert.equal(bodyText(got[0]), 'hello');
    }
  });

  it('reads two responses in one chunk, and skips a 100 Continue', () => {
    const { got } = read([text('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')]);
    assert.deepEqual(got.map((r) => [r.status, r.reason, bodyText(r), r.keepAlive]), [
      [200, 'OK', 'a', true],
      [503, 'Busy', '', false],
    ]);
  });

  it('reads a body that ends with the connection, and says the connection cannot be reused', () => {
    const { got, errors } = read([text('HTTP/1.1 200 OK\r\n\r\nab'), text('c')], true);
    assert.deepEqual(errors, []);
    assert.equal(bodyText(got[0]), 'abc');
    assert.equal(got[0].keepAlive, false);
  });

  it('treats HTTP/1.0 as closing unless it says keep-alive', () => {
    assert.equal(read([text('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n')]).got[0].keepAlive, false);
    assert.equal(read([text('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n')]).got[0].keepAlive, true);
  });

  it('reports malformed, oversized and cut-off responses once, and then reads nothing more', () => {
    const cases: Array<[string, RegExp, boolean?]> = [
      ['HTTP/2 200\r\n\r\n', /status line/],
      ['SSH-2.0-OpenSSH\r\n\r\n', /status line/],
      ['HTTP/1.1 200 OK\r\nbroken\r\n\r\n', /header line/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n', /over 100 bytes/],
      ['HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n', /Content-Length/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', /Transfer-Encoding/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /chunk size/],
      [`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n${'a'.repeat(101)}`, /over 100 bytes/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab', /closed in the middle/, true],
      [`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(2000)}`, /headers over 1024/],
    ];
    for (const [input, why, end] of cases) {
      const r = read([text(input)], end ?? false);
      assert.equal(r.errors.length, 1, input);
      assert.match(r.errors[0], why, input);
      assert.equal(r.got.length, 0, input);
    }
  });
});
