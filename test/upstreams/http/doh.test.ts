import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendBytes } from '../../../src/core/stream-framer.ts';
import { createCounters } from '../../../src/core/counters.ts';
import { ErrorCode, isHoldfastError } from '../../../src/core/errors.ts';
import type { CorePorts } from '../../../src/core/ports.ts';
import { parseUpstream } from '../../../src/upstreams/spec.ts';
import { createDohTransport } from '../../../src/upstreams/http/doh.ts';
import { DEFAULT_ENCRYPTED_SETTINGS, type EncryptedTransportSettings } from '../../../src/upstreams/transport.ts';
import { createFakeTime } from '../../helpers/fake-clock.ts';
import { createFakeNet, drain, settle, type FakeTlsPeer, type FakeTlsServer } from '../../helpers/fake-net.ts';
import { decode, query, reply } from '../../helpers/packets.ts';

const AT = '192.0.2.1:443';
const URL = 'https://192.0.2.1/dns-query#dns.example';

interface SeenRequest {
  readonly head: string;
  readonly body: Uint8Array;
  readonly peer: FakeTlsPeer;
  /** Which connection (from 0) it came on. */
  readonly conn: number;
}

/** A minimal HTTP/1.1 server: collects each request (Content-Length bodies only) for the test to answer. */
function httpServer(onRequest: (r: SeenRequest) => void): FakeTlsServer & { conns: FakeTlsPeer[] } {
  const conns: FakeTlsPeer[] = [];
  return {
    conns,
    accept(peer) {
      const conn = conns.push(peer) - 1;
      let buf: Uint8Array = new Uint8Array(0);
      return {
        onData(bytes) {
          buf = appendBytes(buf, bytes);
          for (;;) {
            const text = new TextDecoder().decode(buf);
            const end = text.indexOf('\r\n\r\n');
            if (end < 0) return;
            const head = text.slice(0, end);
            const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
            if (buf.length < end + 4 + length) return;
            const body = buf.slice(end + 4, end + 4 + length);
            buf = buf.slice(end + 4 + length);
            onRequest({ head, body, peer, conn });
          }
        },
      };
    },
  };
}

function respond(peer: FakeTlsPeer, status: number, body: Uint8Array, extra = ''): void {
  const head = `HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Nope'}\r\nContent-Type: application/dns-message\r\nContent-Length: ${body.length}\r\n${extra}\r\n`;
  const out = new Uint8Array(head.length + body.length);
  out.set(new TextEncoder().encode(head));
  out.set(body, head.length);
  peer.write(out);
}

const answer = (q: Uint8Array) => reply(q, { answers: [{ type: 'A', name: decode(q).questions[0].name, ttl: 60, class: 'IN', data: '192.0.2.7' }] });
const nameOf = (bytes: Uint8Array) => decode(bytes).questions[0].name;

function setup(server: FakeTlsServer, url = URL, settings: Partial<EncryptedTransportSettings> = {}) {
  const time = createFakeTime();
  const fake = createFakeNet({ [AT]: { tls: server } });
  const counters = createCounters();
  const ports: CorePorts = { clock: time, timers: time, entropy: { random: () => 0.5, id16: () => 9 }, net: fake.net };
  const t = createDohTransport(parseUpstream(url), { ...DEFAULT_ENCRYPTED_SETTINGS, ...settings }, ports, counters);
  const ask = (name: string, id = 0x4242, timeoutMs = 4000, signal?: AbortSignal) => t.exchange(query(name, 'A', { id }), timeoutMs, signal);
  return { time, fake, counters, t, ask };
}

describe('DoH transport: requests', () => {
  it('POSTs application/dns-message with ID 0 and padding, over HTTP/1.1 with ALPN, and gives the reply the caller\'s ID', async () => {
    const seen: SeenRequest[] = [];
    const s = setup(httpServer((r) => {
      seen.push(r);
      respond(r.peer, 200, answer(r.body));
    }));
    const got = await s.ask('a.example', 0x4242);
    assert.equal(decode(got).id, 0x4242);
    assert.equal(nameOf(got), 'a.example');
    const lines = seen[0].head.split('\r\n');
    assert.equal(lines[0], 'POST /dns-query HTTP/1.1');
    assert.ok(lines.includes('Host: dns.example'), seen[0].head);
    assert.ok(lines.includes('Content-Type: application/dns-message'));
    assert.ok(lines.includes('Accept: application/dns-message'));
    assert.equal(decode(seen[0].body).id, 0, 'RFC 8484 §4.1');
    assert.equal(seen[0].body.length % 128, 0, 'padded (RFC 8467)');
    assert.deepEqual(s.fake.tlsConnects[0].options.alpn, ['http/1.1']);
    assert.equal(s.fake.tlsConnects[0].options.serverName, 'dns.example');
  });

  it('GETs with the query as base64url in dns= when asked to', async () => {
    const seen: SeenRequest[] = [];
    const s = setup(httpServer((r) => {
      seen.push(r);
      const dns = /[?&]dns=([A-Za-z0-9_-]+)/.exec(r.head)![1];
      const q = Uint8Array.from(atob(dns.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (dns.length % 4)) % 4)), (c) => c.charCodeAt(0));
      respond(r.peer, 200, answer(q));
    }), 'https://192.0.2.1/dns-query?method=get#dns.example');
    assert.equal(nameOf(await s.ask('a.example')), 'a.example');
    assert.match(seen[0].head, /^GET \/dns-query\?dns=[A-Za-z0-9_-]+ HTTP\/1\.1\r\n/);
    assert.doesNotMatch(seen[0].head, /Content-Length/i);
  });

  it('reuses a kept-alive connection for the next request', async () => {
    const s = setup(httpServer((r) => respond(r.peer, 200, answer(r.body))));
    await s.ask('a.example');
    await s.ask('b.example');
    await s.ask('c.example');
    assert.equal(s.fake.tlsConnects.length, 1);
    assert.equal(s.counters.upstream_connections, 1);
  });

  it('runs one request per connection, and at most httpConnections connections, queueing the rest', async () => {
    const held: SeenRequest[] = [];
    const server = httpServer((r) => held.push(r));
    const s = setup(server, URL, { httpConnections: 3 });
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((n) => `${n}.example`);
    const replies = names.map((n) => s.ask(n));
    await drain();
    assert.equal(server.conns.length, 3, 'capped');
    assert.equal(held.length, 3, 'one request each');
    for (let i = 0; i < names.length; i++) {
      await drain();
      const r = held[i];
      respond(r.peer, 200, answer(r.body));
    }
    const got = await Promise.all(replies);
    assert.deepEqual(got.map(nameOf), names, 'each got its own answer');
    assert.equal(server.conns.length, 3);
  });

  it('a connection whose request has had no byte back for silentConnectionMs no longer counts: the next request opens another (twice httpConnections at most)', async () => {
    const held: SeenRequest[] = [];
    const server = httpServer((r) => held.push(r));
    const s = setup(server, URL, { httpConnections: 1, silentConnectionMs: 2000 });
    const first = s.ask('a.example', 1, 8000);
    const second = s.ask('b.example', 2, 8000);
    await drain();
    s.time.advance(1999);
    await drain();
    assert.equal(server.conns.length, 1, 'not before the stall');
    s.time.advance(1);
    await drain();
    assert.equal(server.conns.length, 2, 'the waiting request got a connection of its own');
    const third = s.ask('c.example', 3, 8000);
    s.time.advance(2000);
    await drain();
    assert.equal(server.conns.length, 2, 'never more than twice httpConnections');
    for (let i = 0; i < 3; i++) {
      await drain();
      respond(held[i].peer, 200, answer(held[i].body));
    }
    assert.deepEqual((await Promise.all([first, second, third])).map(nameOf), ['a.example', 'b.example', 'c.example']);
  });

  it('reads a chunked response', async () => {
    const s = setup(httpServer((r) => {
      const body = answer(r.body);
      const head = new TextEncoder().encode(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${(body.length - 5).toString(16)}\r\n`);
      r.peer.write(head);
      r.peer.write(body.slice(0, body.length - 5));
      r.peer.write(new TextEncoder().encode('\r\n5\r\n'));
      r.peer.write(body.slice(body.length - 5));
      r.peer.write(new TextEncoder().encode('\r\n0\r\n\r\n'));
    }));
    assert.equal(nameOf(await s.ask('a.example')), 'a.example');
  });
});

describe('DoH transport: failures', () => {
  it('fails a copy on a status other than 200 with HF_UPSTREAM_HTTP and the status', async () => {
    const s = setup(httpServer((r) => respond(r.peer, 503, new Uint8Array(0))));
    await assert.rejects(s.ask('a.example'), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamHttp) && /HTTP 503/.test(e.message));
    assert.equal(s.counters.upstream_http_errors, 1);
    assert.equal(s.fake.tlsConnects.length, 1);
    await assert.rejects(s.ask('b.example'));
    assert.equal(s.fake.tlsConnects.length, 1, 'the connection is still good for the next request');
  });

  it('fails a body that does not answer the query', async () => {
    const s = setup(httpServer((r) => respond(r.peer, 200, answer(query('other.example', 'A', { id: 0 })))));
    await assert.rejects(s.ask('a.example'), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamBadReply));
  });

  it('sends a request again on a fresh connection when a kept-alive one is closed before the response', async () => {
    let n = 0;
    const server = httpServer((r) => {
      if (n++ === 1) r.peer.close(); // the server's keep-alive timeout races our second request
      else respond(r.peer, 200, answer(r.body));
    });
    const s = setup(server);
    await s.ask('a.example');
    assert.equal(nameOf(await settle(s.ask('b.example'), s.time, 10)), 'b.example');
    assert.equal(server.conns.length, 2);
    assert.equal(s.counters.upstream_requeued, 1);
  });

  it('opens a new connection after a response that says Connection: close', async () => {
    const server = httpServer((r) => respond(r.peer, 200, answer(r.body), 'Connection: close\r\n'));
    const s = setup(server);
    await s.ask('a.example');
    await drain();
    assert.ok(server.conns[0].closed);
    await s.ask('b.example');
    assert.equal(server.conns.length, 2);
  });

  it('closes the connection of a timed-out request, and waits out a stopped one before reusing its connection', async () => {
    const held: SeenRequest[] = [];
    const server = httpServer((r) => held.push(r));
    const s = setup(server, URL, { httpConnections: 1 });
    const timedOut = s.ask('slow.example', 1, 500);
    await drain();
    s.time.advance(500);
    await assert.rejects(timedOut, (e: unknown) => isHoldfastError(e, ErrorCode.upstreamTimeout));
    assert.ok(server.conns[0].closed, 'a connection stuck on a request is closed');

    const stop = new AbortController();
    const stopped = s.ask('stopped.example', 2, 4000, stop.signal);
    await drain();
    stop.abort();
    await assert.rejects(stopped, (e: unknown) => isHoldfastError(e, ErrorCode.upstreamAborted));
    const next = s.ask('next.example', 3);
    await drain();
    assert.equal(held.length, 2, 'the next request waits for the stopped one\'s response');
    respond(held[1].peer, 200, answer(held[1].body));
    await drain();
    respond(held[2].peer, 200, answer(held[2].body));
    assert.equal(nameOf(await next), 'next.example', 'and does not get the stopped one\'s answer');
  });

  it('fails with HF_UPSTREAM_TLS when the handshake fails, sending nothing in plain text', async () => {
    const s = setup({
      accept() {
        throw new Error('unable to verify the first certificate');
      },
    });
    await assert.rejects(s.ask('a.example'), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamTls) && /unable to verify/.test(e.message));
    assert.equal(s.fake.sent.length, 0);
  });
});
