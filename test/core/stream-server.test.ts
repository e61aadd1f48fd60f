import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCounters } from '../../src/core/counters.ts';
import type { Handle } from '../../src/core/handle.ts';
import type { TcpConnection } from '../../src/core/ports.ts';
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

/**
 * A connection whose client reads nothing until the test says so: what is written stays
 * "unsent" while `reading` is false, as in an adapter's queue.
 */
function fakeConn(reading = true) {
  const writes: number[][] = [];
  let closed = 0;
  let unsent = 0;
  let paused = false;
  const conn: TcpConnection = {
    write: (b) => {
      writes.push([...b]);
      if (!reading) unsent += b.length;
    },
    close: () => {
      closed++;
    },
    get bufferedBytes() {
      return unsent;
    },
    pause: () => void (paused = true),
    resume: () => void (paused = false),
  };
  return {
    conn,
    writes,
    closedTimes: () => closed,
    isPaused: () => paused,
    /** The client reads everything: the adapter's queue empties and it reports the drain. */
    readAll(handlers: { onDrain?(): void }) {
      unsent = 0;
      handlers.onDrain?.();
    },
  };
}

const OPTIONS: StreamServerOptions = { idleTimeoutMs: 10_000, maxConnections: 3, maxInFlightPerConnection: 4, maxQueryBytes: 512, maxUnsentBytes: 4 * 1024 * 1024 };

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

  it('restarts the idle timer on every whole query received', async () => {
    const { time, h, server } = setup();
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    time.advance(9_000);
    s.onData(q(1));
    h.drop(1);
    await drain();
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

  it('refuses connections over the cap while every one waits on upstreams, and accepts again once one closes', () => {
    const { counters, server } = setup({ maxConnections: 2 });
    const first = server.accept(fakeConn().conn, PEER)!;
    const second = server.accept(fakeConn().conn, PEER)!;
    first.onData(q(1));
    second.onData(q(2));
    assert.equal(server.accept(fakeConn().conn, PEER), null);
    assert.equal(counters.tcp_connections_refused, 1);
    first.onClose();
    assert.equal(server.openConnections, 1);
    assert.ok(server.accept(fakeConn().conn, PEER));
  });

  it('frees a slot when the server closes an idle connection', () => {
    const { time, server } = setup({ maxConnections: 1 });
    server.accept(fakeConn().conn, PEER)!.onData(q(1));
    assert.equal(server.accept(fakeConn().conn, PEER), null);
    time.advance(10_000);
    assert.equal(server.openConnections, 1, 'waiting on an upstream is not idleness');
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

  it('cuts off a client that piles up more query bytes than a connection may hold', () => {
    // Each q() frame is 6 bytes: sixteen waiting are 96.
    const { h, server, counters } = setup({ maxInFlightPerConnection: 2, maxHeldQueryBytes: 96 });
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    const ids = Array.from({ length: 2 + 16 }, (_, i) => i + 1);
    s.onData(concat(...ids.map((id) => q(id))));
    assert.equal(c.closedTimes(), 0, 'two in flight and 96 bytes waiting are allowed');
    assert.ok(c.isPaused(), 'and nothing more is read while they wait');
    s.onData(q(99));
    assert.equal(c.closedTimes(), 1);
    assert.equal(counters.tcp_pipeline_overflows, 1);
    assert.deepEqual(h.seen, [1, 2]);
  });

  it('#2 - counts a client cut off for piling up queries once, and handles nothing after it', async () => {
    const { h, server, counters } = setup({ maxInFlightPerConnection: 2, maxHeldQueryBytes: 96 });
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
        return {
          refused: false,
          release: () => {
            open--;
            released++;
          },
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
    const { time, server } = setup({ admitConnection: () => ({ refused: false, release: () => released++ }) });
    server.accept(fakeConn().conn, PEER)!.onClose();
    assert.equal(released, 1);
    server.accept(fakeConn().conn, PEER);
    time.advance(10_000);
    assert.equal(released, 2);
  });

  it('does not ask the gate for a connection over the total cap', () => {
    let asked = 0;
    const { server } = setup({ maxConnections: 1, admitConnection: () => (asked++, { refused: false, release: () => {} }) });
    server.accept(fakeConn().conn, PEER)!.onData(q(1));
    assert.equal(server.accept(fakeConn().conn, PEER), null);
    assert.equal(asked, 1);
  });

  // Issue 15: what a client can make the server hold (memory, slots, time) is bounded.

  /** A handle answering every query at once with `size` bytes starting with the query's id. */
  function sizedHandle(size: number): { handle: Handle; seen: number[] } {
    const seen: number[] = [];
    return {
      seen,
      handle: (bytes) => {
        seen.push(bytes[0]);
        const reply = new Uint8Array(size);
        reply[0] = bytes[0];
        return reply;
      },
    };
  }

  function sizedSetup(size: number, options: Partial<StreamServerOptions> = {}) {
    const time = createFakeTime();
    const counters = createCounters();
    const h = sizedHandle(size);
    const server = createStreamServer(h.handle, { ...OPTIONS, ...options }, time, counters);
    return { time, counters, h, server };
  }

  it('#15 - stops reading a connection whose answers are not read, and resumes when the client reads them', async () => {
    const { h, server } = sizedSetup(1_000, { maxUnsentBytesPerConnection: 1_500 });
    const c = fakeConn(false);
    const s = server.accept(c.conn, PEER)!;
    s.onData(q(1));
    await drain();
    assert.equal(c.isPaused(), false, 'one answer unsent is under the bound');
    s.onData(q(2));
    await drain();
    assert.equal(c.isPaused(), true, 'two answers unsent are over it');
    // An adapter may deliver what it had already read: it is held, not answered.
    s.onData(concat(q(3), q(4)));
    await drain();
    assert.deepEqual(h.seen, [1, 2]);
    assert.equal(c.writes.length, 2);
    c.readAll(s);
    await drain();
    assert.deepEqual(h.seen, [1, 2, 3, 4]);
    assert.equal(c.isPaused(), true, 'the two answers just written are unsent again');
    assert.equal(c.closedTimes(), 0);
  });

  it('#15 - closes a client that does not read its answers within the idle timeout, even with queries in flight', async () => {
    const { time, counters, server } = sizedSetup(2_000, { maxUnsentBytesPerConnection: 1_000 });
    const c = fakeConn(false);
    const s = server.accept(c.conn, PEER)!;
    s.onData(q(1));
    await drain();
    assert.equal(c.isPaused(), true);
    time.advance(9_999);
    assert.equal(c.closedTimes(), 0);
    time.advance(1);
    assert.equal(c.closedTimes(), 1);
    assert.equal(counters.tcp_slow_closed, 1);
  });

  it('#15 - counts unsent answers of all connections against one budget and closes the biggest holders', async () => {
    const { counters, server } = sizedSetup(300, { maxConnections: 10, maxUnsentBytes: 1_000, maxUnsentBytesPerConnection: 10_000 });
    const conns = [fakeConn(false), fakeConn(false), fakeConn(false)];
    const sessions = conns.map((c) => server.accept(c.conn, PEER)!);
    sessions[0].onData(concat(q(1), q(2)));
    await drain();
    sessions[1].onData(q(3));
    await drain();
    assert.equal(server.unsentBytes, 302 * 3);
    sessions[2].onData(q(4));
    await drain();
    assert.deepEqual(conns.map((c) => c.closedTimes()), [1, 0, 0], 'the one holding two answers goes');
    assert.equal(counters.tcp_unsent_overflows, 1);
    assert.equal(server.unsentBytes, 302 * 2);
    conns[1].readAll(sessions[1]);
    assert.equal(server.unsentBytes, 302);
  });

  it('#15 - reads query frames of up to 4 KiB by default and closes on a longer one', () => {
    const { h, counters, server } = setup({ maxQueryBytes: undefined });
    const ok = fakeConn();
    const big = new Uint8Array(4_096).fill(9);
    server.accept(ok.conn, PEER)!.onData(frame(big));
    assert.deepEqual(h.seen, [9]);
    const c = fakeConn();
    server.accept(c.conn, PEER)!.onData(Uint8Array.from([4_097 >> 8, 4_097 & 255, 0]));
    assert.equal(c.closedTimes(), 1);
    assert.equal(counters.tcp_oversized_frames, 1);
  });

  it('#15 - closes a client sending a query a byte at a time once the idle timeout has passed since its first byte', () => {
    const { time, h, counters, server } = setup({ maxConnections: 10 });
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    const slow = frame(new Uint8Array(100).fill(5));
    let sent = 0;
    // One byte every two seconds: the old server restarted its idle timer on each.
    for (let t = 0; t < 60 && c.closedTimes() === 0; t++) {
      s.onData(slow.subarray(sent, sent + 1));
      sent++;
      time.advance(2_000);
    }
    assert.equal(c.closedTimes(), 1);
    assert.ok(sent <= 6, `closed after ${sent} bytes`);
    assert.equal(counters.tcp_slow_closed, 1);
    assert.deepEqual(h.seen, []);
  });

  it('#15 - when every slot is taken, lets a new connection in by closing the idlest one, never one waiting on upstreams (RFC 7766 §6.2.3)', async () => {
    const { time, h, counters, server } = setup({ maxConnections: 3 });
    const busy = fakeConn();
    server.accept(busy.conn, PEER)!.onData(q(1));
    // Two slow clients, each trickling a query byte by byte.
    const slow = [fakeConn(), fakeConn()];
    for (const c of slow) {
      time.advance(1_000);
      server.accept(c.conn, PEER)!.onData(Uint8Array.from([0]));
    }
    time.advance(1_000);
    const good = fakeConn();
    const s = server.accept(good.conn, PEER);
    assert.ok(s, 'the newcomer is let in');
    assert.deepEqual(slow.map((c) => c.closedTimes()), [1, 0], 'the idlest slow one made room');
    assert.equal(busy.closedTimes(), 0);
    assert.equal(counters.tcp_evicted, 1);
    s.onData(q(7));
    assert.deepEqual(h.seen, [1, 7]);
    // The next newcomer closes the other slow one, not a client waiting on its answer.
    assert.ok(server.accept(fakeConn().conn, PEER)!);
    assert.equal(slow[1].closedTimes(), 1);
    h.answer(7);
    await drain();
    assert.equal(good.writes.length, 1, 'the well-behaved client got its answer');
  });

  it('#15 - tells a refused client REFUSED once, then closes its connection, and gives its slot first', async () => {
    const { h, server } = setup({ maxConnections: 2, admitConnection: () => ({ refused: true, release: () => {} }) });
    const c = fakeConn();
    const s = server.accept(c.conn, PEER)!;
    s.onData(concat(q(1), q(2)));
    assert.deepEqual(h.seen, [1], 'only one query is read');
    assert.equal(c.isPaused(), true);
    h.answer(1);
    await drain();
    assert.equal(c.writes.length, 1);
    assert.equal(c.closedTimes(), 1);
    assert.equal(server.openConnections, 0);
  });

  it('#15 - lets a refused newcomer take only a refused client\'s slot', () => {
    let refuse = false;
    const { server } = setup({ maxConnections: 1, admitConnection: () => ({ refused: refuse, release: () => {} }) });
    const allowed = fakeConn();
    server.accept(allowed.conn, PEER);
    refuse = true;
    assert.equal(server.accept(fakeConn().conn, PEER), null);
    assert.equal(allowed.closedTimes(), 0);
    refuse = false;
    assert.ok(server.accept(fakeConn().conn, PEER));
    assert.equal(allowed.closedTimes(), 1);
  });
});
