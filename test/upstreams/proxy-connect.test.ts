import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isHoldfastError } from '../../src/core/errors.ts';
import { connectAuthority, createConnectReplyReader, createTunnel, encodeConnect, MAX_CONNECT_REPLY_HEAD_BYTES } from '../../src/upstreams/proxy-connect.ts';

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);
const PROXY = '127.0.0.1:3128';

const proxyError = (why: RegExp) => (e: unknown) => isHoldfastError(e, ErrorCode.upstreamProxy) && why.test(e.message);

describe('#4 - CONNECT request', () => {
  it('asks for HOST:PORT in authority form, with Host and no credentials unless given', () => {
    assert.equal(text(encodeConnect('dns.example:853')), 'CONNECT dns.example:853 HTTP/1.1\r\nHost: dns.example:853\r\nUser-Agent: holdfast\r\n\r\n');
  });

  it('brackets an IPv6 target (RFC 9110 §7.2)', () => {
    assert.equal(connectAuthority('2001:db8::53', 443), '[2001:db8::53]:443');
    assert.equal(connectAuthority('192.0.2.53', 853), '192.0.2.53:853');
  });

  it('sends Basic credentials in Proxy-Authorization, UTF-8 before base64 (RFC 7617)', () => {
    const req = text(encodeConnect('192.0.2.53:853', { username: 'Aladdin', password: 'open sesame' }));
    assert.match(req, /\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n$/);
    const utf8 = text(encodeConnect('192.0.2.53:853', { username: 'test', password: '123£' }));
    assert.match(utf8, /Proxy-Authorization: Basic dGVzdDoxMjPCow==\r\n/);
  });
});

describe('#4 - CONNECT reply reader', () => {
  it('returns the status once the head is whole: 200', () => {
    const r = createConnectReplyReader(PROXY).push(bytes('HTTP/1.1 200 Connection established\r\n\r\n'));
    assert.deepEqual(r && { status: r.status, reason: r.reason, rest: [...r.rest] }, { status: 200, reason: 'Connection established', rest: [] });
  });

  it('returns a refusal as it is, headers and all: 407', () => {
    const r = createConnectReplyReader(PROXY).push(bytes('HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="x"\r\nContent-Length: 5\r\n\r\nno no'));
    assert.equal(r?.status, 407);
    assert.equal(r?.reason, 'Proxy Authentication Required');
  });

  it('waits for a head split across chunks, however small', () => {
    const reader = createConnectReplyReader(PROXY);
    const whole = bytes('HTTP/1.1 200 OK\r\nVia: 1.1 tinyproxy\r\n\r\n');
    for (let i = 0; i < whole.length - 1; i++) assert.equal(reader.push(whole.subarray(i, i + 1)), null, `after ${i + 1} bytes`);
    assert.equal(reader.push(whole.subarray(whole.length - 1))?.status, 200);
  });

  it('hands back the bytes after the head: they belong to the tunnel', () => {
    const r = createConnectReplyReader(PROXY).push(bytes('HTTP/1.1 200 OK\r\n\r\n\x16\x03\x01'));
    assert.deepEqual([...r!.rest], [0x16, 3, 1]);
  });

  it('reads past 1xx replies to the final one (RFC 9110 §15.2)', () => {
    const reader = createConnectReplyReader(PROXY);
    assert.equal(reader.push(bytes('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2')), null);
    assert.equal(reader.push(bytes('00 OK\r\n\r\n'))?.status, 200);
  });

  it('refuses at once what is not HTTP, naming the proxy', () => {
    assert.throws(() => createConnectReplyReader(PROXY).push(new Uint8Array([0x16, 3, 3, 0, 0x40])), proxyError(/^proxy 127\.0\.0\.1:3128 did not answer CONNECT in HTTP/));
    assert.throws(() => createConnectReplyReader(PROXY).push(bytes('SSH-2.0-OpenSSH')), proxyError(/not answer CONNECT in HTTP \(it sent "SSH-2\.0/));
  });

  it('refuses a malformed status line or header line', () => {
    assert.throws(() => createConnectReplyReader(PROXY).push(bytes('HTTP/1.1 2000 OK\r\n\r\n')), proxyError(/malformed status line/));
    assert.throws(() => createConnectReplyReader(PROXY).push(bytes('HTTP/2 200\r\n\r\n')), proxyError(/malformed status line/));
    assert.throws(() => createConnectReplyReader(PROXY).push(bytes('HTTP/1.1 200 OK\r\nno colon here\r\n\r\n')), proxyError(/malformed header line/));
  });

  it('refuses a head that never ends within the bound, without reading on', () => {
    const reader = createConnectReplyReader(PROXY);
    assert.equal(reader.push(bytes('HTTP/1.1 200 OK\r\n')), null);
    const filler = bytes(`X-Filler: ${'a'.repeat(100)}\r\n`);
    let threw: unknown = null;
    let pushed = 0;
    for (let i = 0; i < 200 && threw === null; i++) {
      try {
        reader.push(filler);
        pushed += filler.length;
      } catch (e) {
        threw = e;
      }
    }
    assert.ok(proxyError(/head over 8192 bytes/)(threw), String(threw));
    assert.ok(pushed < MAX_CONNECT_REPLY_HEAD_BYTES, `refused after ${pushed} bytes`);
  });

  it('cleans a reason phrase before it can reach a log', () => {
    const r = createConnectReplyReader(PROXY).push(bytes(`HTTP/1.1 403 \x1b[31mred\x7f${'x'.repeat(200)}\r\n\r\n`));
    assert.ok(r && /^\?\[31mred\?x+\.\.\.$/.test(r.reason) && r.reason.length <= 83, String(r?.reason));
  });
});

describe('#4 - the tunnel an adapter opens', () => {
  it('carries the CONNECT request and opens on any 2xx', () => {
    const t = createTunnel(PROXY, 'dns.example:853');
    assert.match(text(t.request), /^CONNECT dns\.example:853 HTTP\/1\.1\r\n/);
    assert.equal(t.reply(bytes('HTTP/1.1 2')), false);
    assert.equal(t.reply(bytes('04 No Content\r\n\r\n')), true);
  });

  it('fails with the proxy, the target and the status when refused: 407, 403', () => {
    assert.throws(
      () => createTunnel(PROXY, '192.0.2.53:853').reply(bytes('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n')),
      proxyError(/^proxy 127\.0\.0\.1:3128 refused CONNECT to 192\.0\.2\.53:853: 407 Proxy Authentication Required$/),
    );
    assert.throws(() => createTunnel(PROXY, '192.0.2.53:853').reply(bytes('HTTP/1.1 403 Access violation\r\nConnection: close\r\n\r\n<html>')), proxyError(/403 Access violation$/));
  });

  it('fails when the proxy sends bytes of its own before TLS begins: a TLS server never speaks first', () => {
    assert.throws(() => createTunnel(PROXY, '192.0.2.53:853').reply(bytes('HTTP/1.1 200 OK\r\n\r\nhello')), proxyError(/sent 5 bytes after its 200 reply, before TLS began/));
  });
});
