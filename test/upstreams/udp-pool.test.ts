// The pooled UDP transport (#11): what a fresh socket per query guaranteed still holds with a
// few sockets shared and rotated. Each fake socket is one "port", so the tests can see which
// socket a query left from and answer from anywhere; the last tests use the runtime's sockets.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import * as bunClient from '../../src/adapters/bun/udp-client.ts';
import * as denoClient from '../../src/adapters/deno/udp-client.ts';
import * as nodeClient from '../../src/adapters/node/udp-client.ts';
import { createCounters } from '../../src/core/counters.ts';
import { ErrorCode, isHoldfastError } from '../../src/core/errors.ts';
import type { CorePorts, Network, Peer, UdpClientHandlers } from '../../src/core/ports.ts';
import { parseUpstream } from '../../src/upstreams/spec.ts';
import { Stop } from '../../src/upstreams/stop.ts';
import type { CopySink } from '../../src/upstreams/transport.ts';
import { createUdpPoolTransport, type UdpPoolOptions } from '../../src/upstreams/udp-pool.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';
import { drain } from '../helpers/fake-net.ts';
import { query, reply } from '../helpers/packets.ts';
import { runtimeName } from '../helpers/runtime.ts';

const UPSTREAM: Peer = { address: '192.0.2.1', port: 53 };

interface FakeSocket {
  readonly port: number;
  readonly handlers: UdpClientHandlers;
  readonly sent: Uint8Array[];
  closed: boolean;
}

function setup(options: UdpPoolOptions = {}, random: () => number = () => 0) {
  const time = createFakeTime();
  const sockets: FakeSocket[] = [];
  const net: Network = {
    connectUdp(_address, _port, handlers) {
      const s: FakeSocket = { port: 40_000 + sockets.length, handlers, sent: [], closed: false };
      sockets.push(s);
      return Promise.resolve({
        send: (bytes) => s.sent.push(bytes),
        close: () => {
          s.closed = true;
        },
      });
    },
    connectTcp: () => Promise.reject(new Error('no TCP here')),
    connectTls: () => Promise.reject(new Error('no TLS here')),
  };
  const counters = createCounters();
  let nextId = 1;
  const ports: CorePorts = { clock: time, timers: time, entropy: { random, id16: () => nextId++ }, net };
  const pool = createUdpPoolTransport(ports, parseUpstream('udp://192.0.2.1'), counters, options);
  /** Answers `q` on the socket it left from, as `from`, with its bytes changed by `edit`. */
  const answer = (q: Uint8Array, from: Peer = UPSTREAM, edit: (b: Uint8Array) => void = () => {}) => {
    const s = sockets.find((x) => x.sent.includes(q))!;
    const bytes = reply(q, { answers: [{ type: 'A', name: 'www.example.org', ttl: 60, class: 'IN', data: '192.0.2.7' }] });
    edit(bytes);
    s.handlers.onMessage(bytes, from);
  };
  const socketOf = (q: Uint8Array) => sockets.findIndex((x) => x.sent.includes(q));
  return { time, sockets, counters, pool, answer, socketOf };
}

/** Records how a promise settles without letting a rejection go unhandled. */
function outcome<T>(p: Promise<T>): { value?: T; error?: unknown; settled: boolean } {
  const o: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  p.then(
    (v) => Object.assign(o, { value: v, settled: true }),
    (e) => Object.assign(o, { error: e, settled: true }),
  );
  return o;
}

describe('pooled UDP upstream sockets (#11)', () => {
  it('#11 - drops replies from the wrong port or address, or with the wrong ID or question, and takes the right one', async () => {
    const s = setup();
    const q = query('www.example.org', 'A', { id: 0x1234 });
    const r = outcome(s.pool.exchange(q, 1000));
    await drain();
    s.answer(q, { address: UPSTREAM.address, port: 5353 });
    s.answer(q, { address: '192.0.2.66', port: 53 });
    s.answer(q, UPSTREAM, (b) => (b[1] ^= 1));
    s.answer(q, UPSTREAM, (b) => (b[13] = 'x'.charCodeAt(0)));
    await drain();
    assert.equal(r.settled, false, 'none of those is the answer');
    assert.equal(s.counters.upstream_mismatched_replies, 4);
    s.answer(q);
    await drain();
    assert.ok(r.value instanceof Uint8Array);
    assert.equal(s.counters.upstream_mismatched_replies, 4);
  });

  it('#11 - fails every query in flight on a socket as refused when an ICMP port unreachable comes back, and retires the socket', async () => {
    const s = setup({ sockets: 1 });
    const a = outcome(s.pool.exchange(query('a.example.org', 'A', { id: 1 }), 1000));
    const b = outcome(s.pool.exchange(query('b.example.org', 'A', { id: 2 }), 1000));
    await drain();
    s.sockets[0].handlers.onError(Object.assign(new Error('recvmsg ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    await drain();
    assert.ok(isHoldfastError(a.error, ErrorCode.upstreamRefused), String(a.error));
    assert.ok(isHoldfastError(b.error, ErrorCode.upstreamRefused), String(b.error));
    assert.equal(s.sockets[0].closed, true);
    const c = query('c.example.org', 'A', { id: 3 });
    outcome(s.pool.exchange(c, 1000));
    await drain();
    assert.equal(s.socketOf(c), 1, 'the next query opens a new socket');
  });

  it('#11 - rotates a socket after maxQueriesPerSocket queries: later queries leave from a new port', async () => {
    const s = setup({ sockets: 1, maxQueriesPerSocket: 3 });
    const qs = [1, 2, 3, 4, 5].map((id) => query(`n${id}.example.org`, 'A', { id }));
    const rs = qs.map((q) => outcome(s.pool.exchange(q, 1000)));
    await drain();
    assert.deepEqual(qs.map(s.socketOf), [0, 0, 0, 1, 1]);
    assert.equal(s.sockets[0].closed, false, 'the retired socket waits for the replies it is owed');
    for (const q of qs.slice(0, 3)) s.answer(q);
    await drain();
    assert.ok(rs.slice(0, 3).every((r) => r.value instanceof Uint8Array));
    assert.equal(s.sockets[0].closed, true, 'closed once its last query ended');
  });

  it('#11 - rotates a socket after maxSocketAgeMs, and closes it when idle', async () => {
    const s = setup({ sockets: 1, maxSocketAgeMs: 2000 });
    const a = query('a.example.org', 'A', { id: 1 });
    const ra = outcome(s.pool.exchange(a, 1000));
    await drain();
    s.answer(a);
    await drain();
    assert.ok(ra.value);
    assert.equal(s.pool.openSockets(), 1);
    s.time.advance(2000);
    assert.equal(s.sockets[0].closed, true);
    assert.equal(s.pool.openSockets(), 0);
    const b = query('b.example.org', 'A', { id: 2 });
    outcome(s.pool.exchange(b, 1000));
    await drain();
    assert.equal(s.socketOf(b), 1);
  });

  it('#11 - never sends an ID twice on one socket: a late reply to a timed-out query is not taken for a newer one', async () => {
    const s = setup({ sockets: 2 });
    const first = query('late.example.org', 'A', { id: 9 });
    const r1 = outcome(s.pool.exchange(first, 500));
    await drain();
    s.time.advance(500);
    await drain();
    assert.ok(isHoldfastError(r1.error, ErrorCode.upstreamTimeout));
    const again = query('late.example.org', 'A', { id: 9 });
    const r2 = outcome(s.pool.exchange(again, 500));
    await drain();
    assert.notEqual(s.socketOf(again), s.socketOf(first), 'the same ID goes out on the other socket');
    s.answer(first); // the late reply arrives on the first socket
    await drain();
    assert.equal(r2.settled, false);
    assert.equal(s.counters.upstream_mismatched_replies, 0, 'a late reply is not a forgery');
  });

  it('#11 - spreads queries over the sockets at random', async () => {
    let i = 0;
    const picks = [0.1, 0.9, 0.6, 0.3];
    const s = setup({ sockets: 4 }, () => picks[i++ % picks.length]);
    const qs = [1, 2, 3, 4].map((id) => query(`n${id}.example.org`, 'A', { id }));
    for (const q of qs) outcome(s.pool.exchange(q, 1000));
    await drain();
    assert.deepEqual(qs.map(s.socketOf), [0, 1, 2, 3], 'slots 0, 3, 2, 1 opened in the order asked');
    assert.equal(new Set(qs.map(s.socketOf)).size, 4);
  });

  it('#11 - ends each query at its own deadline, with one timer for the pool instead of one per query', async () => {
    const s = setup({ sockets: 1 });
    const long = query('long.example.org', 'A', { id: 1 });
    const answered = query('answered.example.org', 'A', { id: 2 });
    const rLong = outcome(s.pool.exchange(long, 1000));
    const rAnswered = outcome(s.pool.exchange(answered, 1000));
    s.time.advance(100);
    // Asked later with a shorter wait: due first, at 400.
    const short = query('short.example.org', 'A', { id: 3 });
    const rShort = outcome(s.pool.exchange(short, 300));
    await drain();
    assert.equal(s.time.pendingTimers, 2, "the socket's age timer and the pool's deadline timer");
    s.answer(answered);
    s.time.advance(299);
    await drain();
    assert.equal(rShort.settled, false);
    s.time.advance(1);
    await drain();
    assert.ok(isHoldfastError(rShort.error, ErrorCode.upstreamTimeout));
    assert.match((rShort.error as Error).message, /within 300 ms/);
    assert.equal(rLong.settled, false);
    s.time.advance(599);
    await drain();
    assert.equal(rLong.settled, false, 'not a moment before its own deadline');
    s.time.advance(1);
    await drain();
    assert.ok(isHoldfastError(rLong.error, ErrorCode.upstreamTimeout));
    assert.ok(rAnswered.value, 'the answered one was never timed out');
    assert.equal(s.time.pendingTimers, 1, 'only the age timer is left');
  });

  it('#11 - a stopped query ends at once as abandoned, and its reply, if one comes, is dropped', async () => {
    const s = setup();
    const stop = new Stop();
    const q = query('stopped.example.org', 'A', { id: 5 });
    const r = outcome(s.pool.exchange(q, 1000, stop));
    await drain();
    stop.abort();
    await drain();
    assert.ok(isHoldfastError(r.error, ErrorCode.upstreamAborted));
    s.answer(q);
    await drain();
    assert.equal(s.counters.upstream_mismatched_replies, 0, 'a late reply is not a forgery');
  });

  it('#11 - exchangeTo() hands the reply to the copy as it arrives, and an error a microtask later, one outcome each', async () => {
    const s = setup();
    const log: string[] = [];
    class Sink extends Stop implements CopySink {
      readonly name: string;
      constructor(name: string) {
        super();
        this.name = name;
      }
      landed(reply: Uint8Array) {
        log.push(`${this.name} landed ${reply[3] & 0x0f}`);
      }
      failed(e: Error) {
        log.push(`${this.name} failed ${(e as { code?: string }).code}`);
      }
    }
    const answered = query('a.example.org', 'A', { id: 1 });
    const stopped = query('b.example.org', 'A', { id: 2 });
    const late = query('c.example.org', 'A', { id: 3 });
    const stop = new Sink('b');
    s.pool.exchangeTo!(answered, 1_000, new Sink('a'));
    s.pool.exchangeTo!(stopped, 1_000, stop);
    s.pool.exchangeTo!(late, 500, new Sink('c'));
    await drain();
    s.answer(answered);
    assert.deepEqual(log, ['a landed 0'], 'the reply at once, not on a later tick');
    stop.abort();
    assert.deepEqual(log, ['a landed 0'], 'an error never from inside the call that caused it');
    await drain();
    assert.deepEqual(log, ['a landed 0', `b failed ${ErrorCode.upstreamAborted}`]);
    s.answer(stopped);
    s.time.advance(500);
    await drain();
    s.answer(late);
    s.time.advance(1_000);
    await drain();
    assert.deepEqual(log, ['a landed 0', `b failed ${ErrorCode.upstreamAborted}`, `c failed ${ErrorCode.upstreamTimeout}`], 'late replies dropped, one outcome each');
    const already = new Sink('d');
    already.abort();
    s.pool.exchangeTo!(query('d.example.org', 'A', { id: 4 }), 1_000, already);
    assert.equal(log.length, 3);
    await drain();
    assert.equal(log[3], `d failed ${ErrorCode.upstreamAborted}`, 'a copy stopped before it is sent is not sent');
  });

  it('#11 - close() ends what is in flight and closes every socket', async () => {
    const s = setup();
    const r = outcome(s.pool.exchange(query('a.example.org', 'A', { id: 1 }), 1000));
    await drain();
    s.pool.close();
    await drain();
    assert.ok(isHoldfastError(r.error, ErrorCode.upstreamAborted));
    assert.ok(s.sockets.every((x) => x.closed));
    assert.equal(s.time.pendingTimers, 0);
  });

  it('after close(), a query fails at once as abandoned and opens no socket', async () => {
    const s = setup();
    s.pool.close();
    const r = outcome(s.pool.exchange(query('a.example.org', 'A', { id: 1 }), 1000));
    await drain();
    assert.ok(isHoldfastError(r.error, ErrorCode.upstreamAborted), String(r.error));
    assert.equal(s.sockets.length, 0);
    assert.equal(s.time.pendingTimers, 0);
  });
});

describe(`pooled UDP upstream sockets on real sockets (${runtimeName})`, () => {
  const client = runtimeName === 'deno' ? denoClient : runtimeName === 'bun' ? bunClient : nodeClient;
  const open: Array<{ close(): void }> = [];
  after(() => open.forEach((c) => c.close()));
  const realPorts = (): CorePorts => ({
    clock: { now: () => Date.now() },
    timers: { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>), setImmediate: (fn) => void setImmediate(fn) },
    entropy: { random: Math.random, id16: () => Math.floor(Math.random() * 65536) },
    net: { connectUdp: client.connectUdp, connectTcp: () => Promise.reject(new Error('no')), connectTls: () => Promise.reject(new Error('no')) },
  });

  it('#11 - a refusing upstream (nothing listens on its port) is still refused at once, not timed out', { skip: runtimeName === 'deno' ? 'Deno UDP cannot report ICMP errors' : false }, async () => {
    // A port that was bound a moment ago and is free now: nothing answers there.
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((res) => probe.bind(0, '127.0.0.1', () => res()));
    const port = probe.address().port;
    await new Promise<void>((res) => probe.close(() => res()));
    const pool = createUdpPoolTransport(realPorts(), parseUpstream(`udp://127.0.0.1:${port}`), createCounters());
    open.push(pool);
    await assert.rejects(pool.exchange(query('www.example.org', 'A', { id: 77 }), 5000), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamRefused));
  });

  it('#11 - queries leave from a new random port after rotation, and replies come back through the pool', async () => {
    const server = dgram.createSocket('udp4');
    const fromPorts: number[] = [];
    server.on('message', (msg, rinfo) => {
      fromPorts.push(rinfo.port);
      server.send(reply(new Uint8Array(msg)), rinfo.port, rinfo.address);
    });
    await new Promise<void>((res) => server.bind(0, '127.0.0.1', () => res()));
    open.push(server);
    const pool = createUdpPoolTransport(realPorts(), parseUpstream(`udp://127.0.0.1:${server.address().port}`), createCounters(), { sockets: 1, maxQueriesPerSocket: 2 });
    open.push(pool);
    for (let i = 0; i < 6; i++) {
      const r = await pool.exchange(query(`n${i}.example.org`, 'A', { id: 100 + i }), 5000);
      assert.equal(r[0] << 8 | r[1], 100 + i);
    }
    assert.equal(fromPorts.length, 6);
    assert.equal(fromPorts[0], fromPorts[1], 'two queries per socket');
    assert.equal(new Set(fromPorts).size, 3, `three sockets, three ports: ${fromPorts.join(', ')}`);
  });
});
