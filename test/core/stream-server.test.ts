import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCounters } from '../../src/core/counters.ts';
import type { Handle } from '../../src/core/handle.ts';
import type { ByteStream } from '../../src/core/ports.ts';
import { createStreamServer, type StreamServerOptions } from '../../src/core/stream-server.ts';
import { frame } from '../../src/core/stream-framer.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';
import { drain } from '../helpers/fake-net.ts';
import { concat } from '../helpers/wire-build.ts';

const PEER = { address: '192.0.2.10', port: 40000 };

/** A handle whose answers the test releases one by one: the reply to [id] is [id, 0xaa]. */
function pendingHandle() {
  const waiting = new Map<number, { resolve: (r: Uint8Array | null) => void; reject: (e: Error) => void }>();
  const seen: number[] = [];
  const handle: Handle = (bytes) =>
    new Promise((resolve, reject) => {
      seen.push(bytes[0]);
      waiting.set(bytes[0], { resolve, reject });
    });
  return {
    handle,
    seen,
    answer(id: number) {
      waiting.get(id)!.resolve(Uint8Array.from([id, 0xaa]));
      waiting.delete(id);
    },
    drop(id: number) {
      waiting.get(id)!.resolve(null);
      waiting.delete(id);
    },
    fail(id: number) {
      waiting.get(id)!.reject(new Error('boom'));
      waiting.delete(id);
    },
  };
}

function fakeConn() {
  const writes: number[][] = [];
  let closed = 0;
  const conn: ByteStream = {
    write: (b) => writes.push([...b]),
    close: () => {
      closed++;
    },
  };
  return { conn, writes, closedTimes: () => closed };
}

const OPTIONS: StreamServerOptions = { idleTimeoutMs: 10_000, maxConnections: 3, maxInFlightPerConnection: 4, maxQueryBytes: 512 };

function setup(options: Partial<StreamServerOptions> = {}) {
  const time = createFakeTime();
  const counters = createCounters();
  const h = pendingHandle();
  const server = createStreamServer(h.handle, { ...OPTIONS, ...options }, time, counters);
  return { time, counters, h, server };
}

const q = (id: number) => frame(Uint8Array.from([id, 1, 2, 3]));

describe('the TCP stream server (RFC 7766)', () => {
  it('answers pipelined queries as each completes, out of order', async () => {
    const { h, server } = setup();
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    s.onData(concat(q(1), q(2), q(3)));
    assert.deepEqual(h.seen, [1, 2, 3], 'all three are in flight at once');
    h.answer(3);
    await drain();
    h.answer(1);
    await drain();
    h.answer(2);
    await drain();
    assert.deepEqual(c.writes, [[0, 2, 3, 0xaa], [0, 2, 1, 0xaa], [0, 2, 2, 0xaa]]);
  });

  it('reads a query split across segments', async () => {
    const { h, server } = setup();
    const s = server.accept(fakeConn().conn, PEER)!;
    const whole = q(7);
    s.onData(whole.slice(0, 1));
    s.onData(whole.slice(1, 4));
    assert.deepEqual(h.seen, []);
    s.onData(whole.slice(4));
    assert.deepEqual(h.seen, [7]);
  });

  it('writes nothing for a query the handle drops, and keeps the connection', async () => {
    const { h, server } = setup();
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    s.onData(q(1));
    h.drop(1);
    await drain();
    assert.deepEqual(c.writes, []);
    assert.equal(c.closedTimes(), 0);
  });

  it('closes an idle connection after the idle timeout and counts it', async () => {
    const { time, counters, server } = setup();
    const c = fakeConn();
    server.accept(c.conn, PEER);
    time.advance(9_999);
    assert.equal(c.closedTimes(), 0);
    time.advance(1);
    assert.equal(c.closedTimes(), 1);
    assert.equal(counters.tcp_idle_closed, 1);
    assert.equal(server.openConnections, 0);
  });

  it('restarts the idle timer on every chunk received', () => {
    const { time, server } = setup();
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    time.advance(9_000);
    s.onData(Uint8Array.from([0]));
    time.advance(9_000);
    assert.equal(c.closedTimes(), 0);
    time.advance(1_000);
    assert.equal(c.closedTimes(), 1);
  });

  it('does not close a connection while a query is in flight, and closes it once idle after the answer', async () => {
    const { time, h, counters, server } = setup();
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    s.onData(q(1));
    time.advance(35_000);
    assert.equal(c.closedTimes(), 0, 'waiting on an upstream is not idleness');
    h.answer(1);
    await drain();
    assert.equal(c.writes.length, 1);
    time.advance(9_999);
    assert.equal(c.closedTimes(), 0);
    time.advance(1);
    assert.equal(c.closedTimes(), 1);
    assert.equal(counters.tcp_idle_closed, 1);
  });

  it('lets a connection go idle after a handle failure', async () => {
    const { time, h, server } = setup();
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    s.onData(q(1));
    h.fail(1);
    await drain();
    time.advance(10_000);
    assert.equal(c.closedTimes(), 1);
  });

  it('closes the connection on a frame longer than the query limit, and counts it', () => {
    const { h, counters, server } = setup({ maxQueryBytes: 100 });
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    s.onData(concat(q(1), [0, 101]));
    assert.equal(c.closedTimes(), 1);
    assert.equal(counters.tcp_oversized_frames, 1);
    assert.equal(server.openConnections, 0);
    s.onData(q(2));
    assert.deepEqual(h.seen, [1]);
  });

  it('refuses connections over the cap and accepts again once one closes', () => {
    const { counters, server } = setup({ maxConnections: 2 });
    const first = server.accept(fakeConn().conn, PEER)!;
    assert.ok(server.accept(fakeConn().conn, PEER));
    assert.equal(server.accept(fakeConn().conn, PEER), null);
    assert.equal(counters.tcp_connections_refused, 1);
    first.onClose();
    assert.equal(server.openConnections, 1);
    assert.ok(server.accept(fakeConn().conn, PEER));
  });

  it('frees a slot when the server closes an idle connection', () => {
    const { time, server } = setup({ maxConnections: 1 });
    server.accept(fakeConn().conn, PEER);
    assert.equal(server.accept(fakeConn().conn, PEER), null);
    time.advance(10_000);
    assert.ok(server.accept(fakeConn().conn, PEER));
  });

  it('holds queries beyond the in-flight cap and answers them as slots free up', async () => {
    const { h, server } = setup({ maxInFlightPerConnection: 2 });
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    s.onData(concat(q(1), q(2), q(3), q(4)));
    assert.deepEqual(h.seen, [1, 2], 'only two are handled at once');
    h.answer(2);
    await drain();
    assert.deepEqual(h.seen, [1, 2, 3]);
    h.answer(1);
    h.answer(3);
    await drain();
    h.answer(4);
    await drain();
    assert.equal(c.writes.length, 4);
    assert.equal(c.closedTimes(), 0);
  });

  it('cuts off a client that piles up far more queries than the cap allows', () => {
    const { h, server, counters } = setup({ maxInFlightPerConnection: 2 });
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    const ids = Array.from({ length: 2 + 2 * 8 }, (_, i) => i + 1);
    s.onData(concat(...ids.map((id) => q(id))));
    assert.equal(c.closedTimes(), 0, 'two in flight and sixteen waiting are allowed');
    s.onData(q(99));
    assert.equal(c.closedTimes(), 1);
    assert.equal(counters.tcp_pipeline_overflows, 1);
    assert.deepEqual(h.seen, [1, 2]);
  });

  it('#2 - counts a client cut off for piling up queries once, and handles nothing after it', async () => {
    const { h, server, counters } = setup({ maxInFlightPerConnection: 2 });
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    // Two in flight, sixteen waiting, then five more in the same segment.
    const ids = Array.from({ length: 2 + 2 * 8 + 5 }, (_, i) => i + 1);
    s.onData(concat(...ids.map((id) => q(id))));
    assert.equal(c.closedTimes(), 1);
    assert.equal(counters.tcp_pipeline_overflows, 1);
    h.answer(1);
    await drain();
    assert.deepEqual(h.seen, [1, 2], 'no waiting query is started on a closed connection');
    assert.deepEqual(c.writes, []);
  });

  it('counts answered queries out of the in-flight total', async () => {
    const { h, server } = setup({ maxInFlightPerConnection: 2 });
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    for (let id = 1; id <= 6; id++) {
      s.onData(q(id));
      h.answer(id);
      await drain();
    }
    assert.equal(c.closedTimes(), 0);
    assert.equal(c.writes.length, 6);
  });

  it('writes nothing after the peer has closed, and stops its timer', async () => {
    const { time, h, server } = setup();
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    s.onData(q(1));
    s.onClose();
    assert.equal(server.openConnections, 0);
    h.answer(1);
    await drain();
    assert.deepEqual(c.writes, []);
    assert.equal(time.pendingTimers, 0);
  });

  it('answers what is in flight after the client half-closes (FIN), then closes', async () => {
    const { h, server } = setup();
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    s.onData(concat(q(1), q(2)));
    s.onEnd!();
    assert.equal(c.closedTimes(), 0);
    h.answer(2);
    await drain();
    assert.equal(c.closedTimes(), 0, 'one answer still to go');
    h.answer(1);
    await drain();
    assert.equal(c.writes.length, 2);
    assert.equal(c.closedTimes(), 1);
    assert.equal(server.openConnections, 0);
  });

  it('answers queries waiting beyond the cap after a half-close before closing', async () => {
    const { h, server } = setup({ maxInFlightPerConnection: 1 });
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    s.onData(concat(q(1), q(2)));
    s.onEnd!();
    h.answer(1);
    await drain();
    assert.deepEqual(h.seen, [1, 2]);
    assert.equal(c.closedTimes(), 0);
    h.answer(2);
    await drain();
    assert.equal(c.writes.length, 2);
    assert.equal(c.closedTimes(), 1);
  });

  it('closes at once on a half-close with nothing to answer', () => {
    const { server } = setup();
    const c = fakeConn();
    server.accept(c.conn, PEER)!.onEnd!();
    assert.equal(c.closedTimes(), 1);
    assert.equal(server.openConnections, 0);
  });

  it('closes every connection on shutdown and leaves no timers behind', () => {
    const { time, server } = setup();
    const conns = [fakeConn(), fakeConn(), fakeConn()];
    for (const c of conns) server.accept(c.conn, PEER);
    server.closeAll();
    assert.deepEqual(conns.map((c) => c.closedTimes()), [1, 1, 1]);
    assert.equal(server.openConnections, 0);
    assert.equal(time.pendingTimers, 0);
  });

  it('asks the connection gate, closes a refused client at once, and releases a slot exactly once', async () => {
    const asked: string[] = [];
    let open = 0;
    let released = 0;
    const { counters, server } = setup({
      admitConnection: (address) => {
        asked.push(address);
        if (open >= 1) return null;
        open++;
        return () => {
          open--;
          released++;
        };
      },
    });
    const first = fakeConn();
    const s = server.accept(first.conn, PEER)!;
    assert.ok(s);
    assert.equal(server.accept(fakeConn().conn, PEER), null);
    assert.deepEqual(asked, [PEER.address, PEER.address]);
    assert.equal(counters.tcp_connections_refused, 0, 'the gate counts its own refusals');
    s.onEnd!();
    s.onClose();
    assert.equal(released, 1);
    assert.ok(server.accept(fakeConn().conn, PEER), 'the slot is free again');
  });

  it('releases the gate slot when the peer goes away and when the idle timer closes it', () => {
    let released = 0;
    const { time, server } = setup({ admitConnection: () => () => released++ });
    server.accept(fakeConn().conn, PEER)!.onClose();
    assert.equal(released, 1);
    server.accept(fakeConn().conn, PEER);
    time.advance(10_000);
    assert.equal(released, 2);
  });

  it('does not ask the gate for a connection over the total cap', () => {
    let asked = 0;
    const { server } = setup({ maxConnections: 1, admitConnection: () => (asked++, () => {}) });
    server.accept(fakeConn().conn, PEER);
    assert.equal(server.accept(fakeConn().conn, PEER), null);
    assert.equal(asked, 1);
  });
});
