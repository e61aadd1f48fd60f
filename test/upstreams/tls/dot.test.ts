import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG } from '../../../src/config/config.ts';
import { createCounters } from '../../../src/core/counters.ts';
import { ErrorCode, isHoldfastError } from '../../../src/core/errors.ts';
import type { CorePorts } from '../../../src/core/ports.ts';
import { createFrameReader, frame } from '../../../src/core/stream-framer.ts';
import { createUpstreamPool } from '../../../src/upstreams/pool.ts';
import { parseUpstream } from '../../../src/upstreams/spec.ts';
import { createDotTransport } from '../../../src/upstreams/tls/dot.ts';
import { DEFAULT_ENCRYPTED_SETTINGS, type EncryptedTransportSettings, type UpstreamEvent } from '../../../src/upstreams/transport.ts';
import { createFakeTime, type FakeTime } from '../../helpers/fake-clock.ts';
import { createFakeNet, dnsOverTls, drain, settle, type FakeTlsPeer, type FakeTlsServer, type Responder } from '../../helpers/fake-net.ts';
import { decode, query, reply } from '../../helpers/packets.ts';

const AT = '192.0.2.1:853';
const URL = 'tls://192.0.2.1#dns.example';
const PIN = 'O+ldeIfgHsEhT/e3YGbP0BKeTyhDz9pZS41VtX9mTyc=';
const OTHER_KEY = 'wtuNtsmzytAUbhfpKOCwRdSodJS4yW0pudwskg/QKiQ=';

const answer = (q: Uint8Array) => reply(q, { answers: [{ type: 'A', name: decode(q).questions[0].name, ttl: 60, class: 'IN', data: '192.0.2.7' }] });

/** A DoT server that holds every query until the test releases it. */
function holding() {
  const held: Array<{ q: Uint8Array; send: (b: Uint8Array) => void }> = [];
  const respond: Responder = (q, send) => held.push({ q, send });
  return { held, respond };
}

function setup(server: FakeTlsServer | undefined, url = URL, settings: Partial<EncryptedTransportSettings> = {}) {
  const time = createFakeTime();
  const fake = createFakeNet(server ? { [AT]: { tls: server } } : {});
  const counters = createCounters();
  let ids = 0x100;
  const ports: CorePorts = { clock: time, timers: time, entropy: { random: () => 0.5, id16: () => ids++ }, net: fake.net };
  const events: UpstreamEvent[] = [];
  const t = createDotTransport(parseUpstream(url), { ...DEFAULT_ENCRYPTED_SETTINGS, ...settings, onEvent: (e) => events.push(e) }, ports, counters);
  const ask = (name: string, id = 0x4242, timeoutMs = 4000, signal?: AbortSignal) => t.exchange(query(name, 'A', { id }), timeoutMs, signal);
  return { time, fake, counters, t, ask, events };
}

const nameOf = (bytes: Uint8Array) => decode(bytes).questions[0].name;

describe('DoT transport: one connection, pipelined', () => {
  it('sends several queries on one connection and matches replies given out of order by ID', async () => {
    const h = holding();
    const s = setup(dnsOverTls(h.respond));
    const names = ['a.example', 'b.example', 'c.example'];
    const replies = names.map((n, i) => s.ask(n, 0x1000 + i));
    await drain();
    assert.equal(s.fake.tlsConnects.length, 1, 'one connection for all three');
    assert.equal(h.held.length, 3, 'all three in flight at once');
    for (const i of [2, 0, 1]) h.held[i].send(answer(h.held[i].q));
    const got = await Promise.all(replies);
    got.forEach((r, i) => {
      assert.equal(nameOf(r), names[i]);
      assert.equal(decode(r).id, 0x1000 + i);
    });
    assert.equal(s.counters.upstream_connections, 1);
  });

  it('gives copies that share an ID distinct IDs on the wire, and each its own ID back', async () => {
    const h = holding();
    const s = setup(dnsOverTls(h.respond));
    const first = s.ask('same.example', 0x7777);
    const second = s.ask('same.example', 0x7777);
    await drain();
    const wireIds = h.held.map((x) => decode(x.q).id);
    assert.equal(new Set(wireIds).size, 2, `unique among those in flight: ${wireIds}`);
    h.held[1].send(answer(h.held[1].q));
    h.held[0].send(answer(h.held[0].q));
    assert.equal(decode(await first).id, 0x7777);
    assert.equal(decode(await second).id, 0x7777);
  });

  it('pads every query to a multiple of 128 bytes (RFC 8467), and sends none unpadded when asked to', async () => {
    const sizes: number[] = [];
    const s = setup(dnsOverTls((q, send) => {
      sizes.push(q.length);
      send(answer(q));
    }));
    await s.ask('a.example');
    await s.ask('a-much-longer-name-than-the-first-one.example');
    assert.deepEqual(sizes, [128, 128]);
    const plain = setup(dnsOverTls((q, send) => {
      sizes.push(q.length);
      send(answer(q));
    }), URL, { paddingBlockBytes: 0 });
    await plain.ask('a.example');
    assert.equal(sizes[2], query('a.example').length);
  });

  it('asks for no peer key without pins, and checks the name it was told', async () => {
    const s = setup(dnsOverTls((q, send) => send(answer(q))));
    await s.ask('a.example');
    const { to, options } = s.fake.tlsConnects[0];
    assert.equal(to, AT);
    // Besides these, only the abort signal of the connect deadline.
    const { signal, ...rest } = options;
    assert.ok(signal instanceof AbortSignal);
    assert.deepEqual(rest, { serverName: 'dns.example', caPem: undefined, alpn: undefined, peerKey: false, tunnel: undefined });
  });
});

describe('DoT transport: connection life', () => {
  it('closes an idle connection after the idle timeout and opens a new one for the next query', async () => {
    const s = setup(dnsOverTls((q, send) => send(answer(q))), URL, { idleTimeoutMs: 30_000 });
    await s.ask('a.example');
    s.time.advance(29_000);
    await s.ask('b.example');
    assert.equal(s.fake.tlsConnects.length, 1, 'used again before the timeout');
    s.time.advance(30_000);
    await drain();
    assert.equal(s.fake.open(), 0, 'closed when idle');
    assert.equal(s.counters.upstream_connections_idle_closed, 1);
    await s.ask('c.example');
    assert.equal(s.fake.tlsConnects.length, 2);
  });

  it('sends a query in flight again on a new connection when the server closes the old one', async () => {
    const peers: FakeTlsPeer[] = [];
    let answering = false;
    const server: FakeTlsServer = {
      accept(peer) {
        peers.push(peer);
        const reader = createFrameReader(65535, (m) => {
          if (answering) peer.write(frame(answer(m)));
        }, () => {});
        return { onData: (b) => reader.push(b) };
      },
    };
    const s = setup(server);
    const r = s.ask('a.example');
    await drain();
    answering = true;
    peers[0].close(); // e.g. the server restarting, or its idle timeout racing our query
    const got = await settle(r, s.time, 10);
    assert.equal(nameOf(got), 'a.example');
    assert.equal(peers.length, 2);
    assert.equal(s.counters.upstream_requeued, 1);
  });

  it('replaces a half-open connection: a query unanswered with nothing received for silentConnectionMs', async () => {
    const peers: FakeTlsPeer[] = [];
    const server: FakeTlsServer = {
      accept(peer) {
        const n = peers.push(peer);
        const reader = createFrameReader(65535, (m) => {
          if (n > 1) peer.write(frame(answer(m))); // the first connection is a black hole
        }, () => {});
        return { onData: (b) => reader.push(b) };
      },
    };
    const s = setup(server, URL, { silentConnectionMs: 2000 });
    const r = s.ask('a.example', 0x4242, 4000);
    await drain();
    s.time.advance(1999);
    await drain();
    assert.equal(peers.length, 1, 'not yet');
    s.time.advance(1);
    const got = await settle(r, s.time, 10);
    assert.equal(nameOf(got), 'a.example');
    assert.equal(peers.length, 2);
    assert.ok(peers[0].closed, 'the dead connection was closed');
    assert.equal(s.counters.upstream_connections_dead, 1);
  });

  it('keeps a slow connection that is still sending: other replies arriving mean it is alive', async () => {
    const h = holding();
    const s = setup(dnsOverTls(h.respond), URL, { silentConnectionMs: 2000 });
    const slow = s.ask('slow.example', 1);
    await drain();
    s.time.advance(1000);
    const fast = s.ask('fast.example', 2);
    await drain();
    h.held[1].send(answer(h.held[1].q));
    await fast;
    s.time.advance(1500); // slow is 2500 ms old, but bytes came 1500 ms ago
    await drain();
    assert.equal(s.counters.upstream_connections_dead, 0);
    h.held[0].send(answer(h.held[0].q));
    assert.equal(nameOf(await slow), 'slow.example');
  });

  it('times out a copy at its deadline and ignores its late reply', async () => {
    const h = holding();
    const s = setup(dnsOverTls(h.respond), URL, { silentConnectionMs: 60_000 });
    const r = s.ask('a.example', 0x4242, 500);
    await drain();
    s.time.advance(500);
    await assert.rejects(r, (e: unknown) => isHoldfastError(e, ErrorCode.upstreamTimeout));
    h.held[0].send(answer(h.held[0].q));
    await drain();
    assert.equal(s.counters.upstream_mismatched_replies, 0, 'a late reply is not a forgery');
    const next = s.ask('b.example');
    await drain();
    const last = h.held[h.held.length - 1];
    last.send(answer(last.q));
    assert.equal(nameOf(await next), 'b.example', 'the connection still serves');
  });

  it('stops a copy when its signal fires', async () => {
    const h = holding();
    const s = setup(dnsOverTls(h.respond));
    const stop = new AbortController();
    const r = s.ask('a.example', 1, 4000, stop.signal);
    await drain();
    stop.abort();
    await assert.rejects(r, (e: unknown) => isHoldfastError(e, ErrorCode.upstreamAborted));
  });
});

describe('DoT transport: failures are the upstream\'s, and never plain DNS', () => {
  it('fails a handshake with HF_UPSTREAM_TLS and the reason, reported once however many queries fail', async () => {
    const server: FakeTlsServer = {
      accept() {
        throw new Error('certificate has expired');
      },
    };
    const s = setup(server);
    for (let i = 0; i < 3; i++) {
      await assert.rejects(settle(s.ask(`q${i}.example`), s.time, 10), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamTls) && /certificate has expired/.test(e.message));
      s.time.advance(5_000); // past the reconnect backoff
    }
    assert.equal(s.fake.tlsConnects.length, 3);
    assert.equal(s.fake.sent.length, 0, 'nothing went out in plain text');
    assert.equal(s.events.length, 1, 'logged once');
    assert.equal(s.events[0].kind, 'connect-failed');
    assert.match(s.events[0].message, /tls:\/\/192\.0\.2\.1#dns\.example.*certificate has expired/);
  });

  it('fails fast during the reconnect backoff instead of handshaking for every query', async () => {
    let fail = true;
    const inner = dnsOverTls((q, send) => send(answer(q)));
    const server: FakeTlsServer = {
      accept(peer) {
        if (fail) throw new Error('connect ECONNREFUSED');
        return inner.accept(peer);
      },
    };
    const s = setup(server);
    await assert.rejects(s.ask('a.example'));
    await assert.rejects(s.ask('b.example'), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamTls));
    assert.equal(s.fake.tlsConnects.length, 1, 'the second failed without a new attempt');
    fail = false;
    s.time.advance(100); // the first backoff is 50-100 ms
    assert.equal(nameOf(await s.ask('c.example')), 'c.example');
    assert.equal(s.events.map((e) => e.kind).join(), 'connect-failed,connected');
  });

  it('refuses a server whose key matches no pin, even with a valid chain, and accepts one that does', async () => {
    const wrong = setup(dnsOverTls((q, send) => send(answer(q)), OTHER_KEY), `tls://192.0.2.1?pin=sha256/${PIN}#dns.example`);
    await assert.rejects(wrong.ask('a.example'), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamTls) && e.message.includes(`sha256/${OTHER_KEY} matches no pin`));
    assert.equal(wrong.fake.open(), 0, 'the connection was closed');
    assert.equal(wrong.fake.tlsConnects[0].options.peerKey, true);

    const right = setup(dnsOverTls((q, send) => send(answer(q)), PIN), `tls://192.0.2.1?pin=sha256/${OTHER_KEY}&pin=sha256/${PIN}#dns.example`);
    assert.equal(nameOf(await right.ask('a.example')), 'a.example');
  });

  it('refuses a pinned upstream when the runtime cannot show the key', async () => {
    const s = setup(dnsOverTls((q, send) => send(answer(q))), `tls://192.0.2.1?pin=sha256/${PIN}#dns.example`);
    await assert.rejects(s.ask('a.example'), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamTls) && /could not read the server key/.test(e.message));
  });

  it('refuses a host name when no bootstrap is set, saying so', async () => {
    const s = setup(dnsOverTls((q, send) => send(answer(q))), 'tls://dns.example');
    await assert.rejects(s.ask('a.example'), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamTls) && /no bootstrap/.test(e.message));
  });
});

describe('DoT upstreams in the pool', () => {
  it('counts handshake failures against the breaker and answers from the next upstream, never plain DNS to the TLS one', async () => {
    const time = createFakeTime();
    const fake = createFakeNet({
      [AT]: {
        tls: {
          accept() {
            throw new Error('Hostname/IP does not match certificate\'s altnames');
          },
        },
        // Plain DNS on the same address would answer: it must never be asked.
        udp: (q, send) => send(answer(q)),
        tcp: (q, send) => send(answer(q)),
      },
      '192.0.2.2:53': { udp: (q, send) => send(answer(q)) },
    });
    const counters = createCounters();
    const ports: CorePorts = { clock: time, timers: time, entropy: { random: () => 0.5, id16: () => 7 }, net: fake.net };
    const both = createUpstreamPool([parseUpstream(URL), parseUpstream('udp://192.0.2.2')], DEFAULT_CONFIG.upstream, ports, counters);
    const r = await settle(both.exchange(query('a.example', 'A', { id: 0x4242 })), time, 10);
    assert.equal(r.upstream.label, 'udp://192.0.2.2', 'the next upstream answered');
    assert.equal(both.health[0].failures, 1);
    both.close();

    const alone = createUpstreamPool([parseUpstream(URL)], DEFAULT_CONFIG.upstream, ports, counters);
    await assert.rejects(settle(alone.exchange(query('q.example', 'A', { id: 0x4242 })), time, 10), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamsExhausted));
    assert.equal(alone.health[0].breaker.state(time.now()), 'open', 'handshake failures opened its breaker');
    await assert.rejects(alone.exchange(query('fast.example', 'A', { id: 1 })), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamsUnavailable));
    assert.ok(fake.sent.every((s) => s.to === '192.0.2.2:53'), `plain DNS only to the plain upstream: ${fake.sent.map((s) => s.to)}`);
    alone.close();
  });
});

describe('#12 - DoT after the network changed', () => {
  it('sends new queries on a fresh connection once the old one is silent past the RTO, and closes the old one when its queries end', async () => {
    const h = holding();
    const s = setup(dnsOverTls(h.respond), URL, { rtoMs: () => 300 });
    const first = s.ask('a.example', 0x1001);
    await drain();
    assert.equal(s.fake.tlsConnects.length, 1);
    // Within the RTO: the same connection.
    s.time.advance(200);
    const second = s.ask('b.example', 0x1002);
    await drain();
    assert.equal(s.fake.tlsConnects.length, 1, 'silent for less than the RTO: still used');
    // Past it: nothing heard since the first query went out.
    s.time.advance(200);
    const third = s.ask('c.example', 0x1003);
    await drain();
    assert.equal(s.fake.tlsConnects.length, 2, 'a fresh connection for the new query');
    assert.equal(h.held.length, 3);
    assert.equal(nameOf(h.held[2].q), 'c.example');
    h.held[2].send(answer(h.held[2].q));
    assert.equal(nameOf(await third), 'c.example');
    // The old one still gets its late replies, then is closed.
    h.held[0].send(answer(h.held[0].q));
    h.held[1].send(answer(h.held[1].q));
    assert.equal(nameOf(await first), 'a.example');
    assert.equal(nameOf(await second), 'b.example');
    await drain();
    assert.equal(s.fake.open(), 1, 'the retired connection is closed once its queries ended; the fresh one stays');
  });

  it('reset() drops the connection at once and sends what was in flight again on a new one', async () => {
    const h = holding();
    const s = setup(dnsOverTls(h.respond));
    const pending = s.ask('a.example', 0x1001);
    await drain();
    s.t.reset!();
    await drain();
    assert.equal(s.fake.tlsConnects.length, 2);
    assert.equal(s.fake.open(), 1, 'the old connection is closed');
    assert.equal(h.held.length, 2, 'the query went out again');
    h.held[1].send(answer(h.held[1].q));
    assert.equal(nameOf(await pending), 'a.example');
  });
});
