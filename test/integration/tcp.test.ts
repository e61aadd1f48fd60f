// DNS over TCP on the LAN side (RFC 7766): pipelining with out-of-order answers, messages split
// across segments, the idle timeout, oversized frames and the connection cap, against a running
// Holdfast whose upstream is the fake (so one name can be made slow).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createTestFramer, dig, lengthPrefixed, tcpExchange } from '../helpers/dns-client.ts';
import { plans, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { until } from '../helpers/until.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { decode, query } from '../helpers/packets.ts';
import { concat as concatBytes } from '../helpers/wire-build.ts';

const concat = (parts: Uint8Array[]): Uint8Array => concatBytes(...parts);

const IDLE_MS = 400;
const SLOW_MS = 300;


/** A connection kept open by the test, with the framed replies it has received. */
interface Held {
  readonly socket: net.Socket;
  readonly replies: Uint8Array[];
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

function hold(port: number): Promise<Held> {
  return new Promise((resolve, reject) => {
    const replies: Uint8Array[] = [];
    let closedFlag = false;
    const socket = net.connect({ port, host: '127.0.0.1' });
    const closed = new Promise<void>((r) =>
      socket.on('close', () => {
        closedFlag = true;
        r();
      }),
    );
    socket.on('error', () => {});
    const push = createTestFramer((m) => replies.push(m));
    socket.on('data', (d: Uint8Array) => push(new Uint8Array(d)));
    socket.once('connect', () => resolve({ socket, replies, closed, isClosed: () => closedFlag }));
    socket.once('error', reject);
  });
}

describe('TCP from clients (RFC 7766)', () => {
  let fake: FakeUpstream;
  let hf: HoldfastProcess;
  before(async () => {
    fake = await startFakeUpstream();
    fake.plan('slow.tcp.test', plans.delay(SLOW_MS));
    hf = await startHoldfast(['--upstream', fake.url.udp, '--tcp-idle-timeout', String(IDLE_MS)]);
  });
  after(async () => {
    await hf?.stop();
    await fake?.close();
  });

  it('answers dig over TCP', async () => {
    const r = await dig(hf.port, ['+tcp', 'plain.tcp.test', 'A']);
    assert.match(r.stdout, /status: NOERROR/);
    assert.match(r.stdout, /plain\.tcp\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.1/);
  });

  it('answers several queries pipelined in one write', async () => {
    const ids = [0x1001, 0x1002, 0x1003, 0x1004, 0x1005];
    const msgs = ids.map((id, i) => lengthPrefixed(query(`p${i}.tcp.test`, 'A', { id })));
    const r = await tcpExchange(hf.port, [concat(msgs)], ids.length, { timeoutMs: 5000 });
    assert.equal(r.replies.length, ids.length);
    const byId = new Map(r.replies.map((b) => [decode(b).id, decode(b)]));
    ids.forEach((id, i) => {
      const d = byId.get(id);
      assert.ok(d, `no reply for ${id}`);
      assert.equal(d.questions[0].name, `p${i}.tcp.test`);
      assert.equal(d.answers[0]?.data, '192.0.2.1');
    });
  });

  it('answers every one of 100 queries pipelined at once with a cold cache (more than the in-flight cap)', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => 0x3000 + i);
    const msgs = ids.map((id, i) => lengthPrefixed(query(`burst${i}.tcp.test`, 'A', { id })));
    const r = await tcpExchange(hf.port, [concat(msgs)], ids.length, { timeoutMs: 8000 });
    assert.deepEqual(r.replies.map((b) => decode(b).id).sort((a, b) => a - b), ids);
    assert.ok(r.replies.every((b) => decode(b).rcode === 'NOERROR'));
  });

  it('answers pipelined queries as they complete, a slow one after a quick one sent later', async () => {
    const slow = lengthPrefixed(query('slow.tcp.test', 'A', { id: 0x2001 }));
    const quick = lengthPrefixed(query('quick.tcp.test', 'A', { id: 0x2002 }));
    const r = await tcpExchange(hf.port, [concat([slow, quick])], 2, { timeoutMs: 5000 });
    assert.deepEqual(
      r.replies.map((b) => decode(b).id),
      [0x2002, 0x2001],
    );
    assert.equal(decode(r.replies[1]).answers[0]?.data, '192.0.2.1');
  });

  it('answers a query sent one byte per segment', async () => {
    const msg = lengthPrefixed(query('bytewise.tcp.test', 'A', { id: 0x3003 }));
    const chunks = Array.from(msg, (b) => Uint8Array.of(b));
    const r = await tcpExchange(hf.port, chunks, 1, { gapMs: 3, timeoutMs: 8000 });
    assert.equal(r.replies.length, 1);
    const d = decode(r.replies[0]);
    assert.equal(d.id, 0x3003);
    assert.equal(d.answers[0]?.data, '192.0.2.1');
  });

  it('answers two queries whose boundary falls inside a segment', async () => {
    const both = concat([lengthPrefixed(query('split1.tcp.test', 'A', { id: 0x3101 })), lengthPrefixed(query('split2.tcp.test', 'A', { id: 0x3102 }))]);
    const cut = Math.floor(both.length / 2) + 3;
    const r = await tcpExchange(hf.port, [both.slice(0, 1), both.slice(1, cut), both.slice(cut)], 2, { gapMs: 20, timeoutMs: 5000 });
    assert.deepEqual(r.replies.map((b) => decode(b).id).sort(), [0x3101, 0x3102]);
  });

  it('answers a client that sends FIN right after its queries, then closes', async () => {
    fake.plan('slow-half.tcp.test', plans.delay(SLOW_MS));
    const slow = lengthPrefixed(query('slow-half.tcp.test', 'A', { id: 0x3201 }));
    const quick = lengthPrefixed(query('half-closed.tcp.test', 'A', { id: 0x3202 }));
    // expect 3: wait for the server's close, not just the two replies.
    const r = await tcpExchange(hf.port, [concat([slow, quick])], 3, { halfClose: true, timeoutMs: IDLE_MS * 10 });
    assert.deepEqual(r.replies.map((b) => decode(b).id).sort(), [0x3201, 0x3202]);
    assert.equal(r.closedByServer, true);
  });

  it('closes a connection that stays idle past the idle timeout', async () => {
    const c = await hold(hf.port);
    try {
      assert.ok(await until(c.isClosed, IDLE_MS * 10), 'the server kept the idle connection open');
    } finally {
      c.socket.destroy();
    }
  });

  it('answers first and then closes a connection that goes idle after a query', async () => {
    const r = await tcpExchange(hf.port, [lengthPrefixed(query('then-idle.tcp.test', 'A', { id: 0x4004 }))], 2, { timeoutMs: IDLE_MS * 10 });
    assert.equal(r.replies.length, 1);
    assert.equal(decode(r.replies[0]).id, 0x4004);
    assert.equal(r.closedByServer, true);
  });

  it('keeps a connection open while its query waits on a slow upstream longer than the idle timeout', async () => {
    fake.plan('slower.tcp.test', plans.delay(IDLE_MS + 300));
    const r = await tcpExchange(hf.port, [lengthPrefixed(query('slower.tcp.test', 'A', { id: 0x4005 }))], 1, { timeoutMs: 5000 });
    assert.equal(r.replies.length, 1);
    assert.equal(decode(r.replies[0]).id, 0x4005);
  });

  it('closes the connection on a declared length over the limit, answering nothing after it', async () => {
    const oversized = Uint8Array.of(0xff, 0xff, 0, 0, 0, 0);
    const then = lengthPrefixed(query('after-oversized.tcp.test', 'A', { id: 0x5005 }));
    const r = await tcpExchange(hf.port, [concat([oversized, then])], 1, { timeoutMs: 5000 });
    assert.equal(r.closedByServer, true);
    assert.equal(r.replies.length, 0);
    assert.equal(fake.count('after-oversized.tcp.test'), 0);
  });

  it('still answers on a new connection after all that', async () => {
    const r = await tcpExchange(hf.port, [lengthPrefixed(query('after.tcp.test', 'A', { id: 0x6006 }))], 1);
    assert.equal(r.replies.length, 1);
    assert.equal(decode(r.replies[0]).id, 0x6006);
  });
});

describe('TCP connection cap', () => {
  const CAP = 2;
  // Long enough for the cap to be tested while the held connections wait on it: a connection
  // with nothing in flight would be closed to let the newcomer in (RFC 7766 §6.2.3).
  const HELD_MS = 2_500;
  let fake: FakeUpstream;
  let hf: HoldfastProcess;
  const held: Held[] = [];
  before(async () => {
    fake = await startFakeUpstream();
    hf = await startHoldfast(['--upstream', fake.url.udp, '--tcp-max-connections', String(CAP)]);
  });
  after(async () => {
    for (const h of held) h.socket.destroy();
    await hf?.stop();
    await fake?.close();
  });

  it('closes connections beyond --tcp-max-connections while the ones it holds wait on upstreams, and serves those', async () => {
    for (let i = 0; i < CAP; i++) {
      const c = await hold(hf.port);
      held.push(c);
      // A reply proves the server took this connection on.
      c.socket.write(lengthPrefixed(query(`held${i}.cap.test`, 'A', { id: 0x7000 + i })));
      assert.ok(await until(() => c.replies.length === 1), `connection ${i} got no reply`);
      fake.plan(`wait${i}.cap.test`, plans.delay(HELD_MS));
      c.socket.write(lengthPrefixed(query(`wait${i}.cap.test`, 'A', { id: 0x7010 + i })));
    }
    assert.ok(await until(() => fake.count('wait1.cap.test') === 1));
    const extra = await tcpExchange(hf.port, [lengthPrefixed(query('extra.cap.test', 'A', { id: 0x7100 }))], 1, { timeoutMs: 5000 });
    assert.equal(extra.closedByServer, true);
    assert.equal(extra.replies.length, 0);
    // The held ones still work.
    assert.ok(await until(() => held[0].replies.length === 2, HELD_MS * 4));
    assert.equal(decode(held[0].replies[1]).id, 0x7010);
  });

  it('accepts a new connection once a held one is closed', async () => {
    held[0].socket.destroy();
    await held[0].closed;
    // The server learns of the close asynchronously; try a few times.
    let answered = false;
    for (let i = 0; i < 20 && !answered; i++) {
      const r = await tcpExchange(hf.port, [lengthPrefixed(query('later.cap.test', 'A', { id: 0x7300 }))], 1, { timeoutMs: 2000 });
      answered = r.replies.length === 1;
      if (!answered) await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(answered, 'no connection was accepted after one closed');
  });
});
