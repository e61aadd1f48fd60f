// #15: what hostile TCP clients can make the shipped server hold, measured from outside: its
// resident memory (/proc/PID/status) while clients do not read their answers or pile up
// queries, and whether a well-behaved client is still answered while hundreds of slow clients
// hold or try to take every connection slot. Bounds are generous (the old server grew by
// 100 MB and more, or answered nobody); nothing asserts how long anything took.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { lengthPrefixed, tcpExchange } from '../helpers/dns-client.ts';
import { plans, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { decode, query } from '../helpers/packets.ts';
import { until } from '../helpers/until.ts';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident memory of a process, in bytes. */
function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'no VmRSS in /proc status');
  return Number(m[1]) * 1024;
}

/** The highest RSS seen while polling every 100 ms for `ms` (bounded). */
async function peakRss(pid: number, ms: number): Promise<number> {
  let peak = rssBytes(pid);
  for (let t = 0; t < ms; t += 100) {
    await sleep(100);
    peak = Math.max(peak, rssBytes(pid));
  }
  return peak;
}

/** Opens a client socket that never reads; errors (the server closing on us) are expected. */
function openQuiet(port: number, sockets: net.Socket[]): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    sockets.push(s);
    s.on('error', () => {});
    s.pause();
    s.once('connect', () => resolve(s));
    s.once('close', () => resolve(s));
  });
}

/** A TXT answer of about `bytes` bytes: 250-byte strings. */
function bigTxt(name: string, bytes: number) {
  const n = Math.floor(bytes / 263);
  return Array.from({ length: n }, (_, i) => ({ name, type: 'TXT' as const, ttl: 3600, data: [String(i).padEnd(250, 'x')] }));
}

describe('#15 - memory a TCP client can make the server hold', () => {
  let fake: FakeUpstream;
  let hf: HoldfastProcess;
  const sockets: net.Socket[] = [];
  before(async () => {
    fake = await startFakeUpstream();
    fake.plan('big.hostile.test', plans.answer({ answers: bigTxt('big.hostile.test', 60_000) }));
    for (let i = 0; i < 64; i++) fake.plan(`hang${i}.hostile.test`, plans.drop());
    hf = await startHoldfast(['--upstream', fake.url.tcp]);
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await hf?.stop();
    await fake?.close();
  });

  it('#15 - keeps RSS bounded while a client pipelines 1,800 queries for a 60 KB cached answer and reads none', async () => {
    const warm = await tcpExchange(hf.port, [lengthPrefixed(query('big.hostile.test', 'TXT', { id: 1 }))], 1, { timeoutMs: 8_000 });
    assert.equal(warm.replies.length, 1, 'the big answer was not served');
    assert.ok(warm.replies[0].length > 55_000, `answer of ${warm.replies[0].length} bytes`);
    const start = rssBytes(hf.pid);
    const s = await openQuiet(hf.port, sockets);
    const one = lengthPrefixed(query('big.hostile.test', 'TXT', { id: 2 }));
    // 36 batches of 50, each under the in-flight cap, as a client that never reads would send.
    const batch = new Uint8Array(one.length * 50);
    for (let i = 0; i < 50; i++) batch.set(one, i * one.length);
    for (let b = 0; b < 36 && !s.destroyed; b++) {
      s.write(batch);
      await sleep(20);
    }
    const peak = await peakRss(hf.pid, 3_000);
    const grew = peak - start;
    console.log(`unsent answers: RSS ${(start / MiB).toFixed(1)} MiB -> peak ${(peak / MiB).toFixed(1)} MiB`);
    assert.ok(grew < 40 * MiB, `RSS grew by ${(grew / MiB).toFixed(1)} MiB`);
    s.destroy();
  });

  it('#15 - keeps RSS bounded while 8 connections pile up 16 KB frames behind queries waiting on upstreams', async () => {
    const start = rssBytes(hf.pid);
    const junk = new Uint8Array(16_000 + 2);
    junk[0] = 16_000 >> 8;
    junk[1] = 16_000 & 255;
    const pile = new Uint8Array(junk.length * 64);
    for (let i = 0; i < 64; i++) pile.set(junk, i * junk.length);
    const conns: net.Socket[] = [];
    for (let c = 0; c < 8; c++) {
      const s = await openQuiet(hf.port, sockets);
      conns.push(s);
      // Queries the upstream never answers fill every in-flight slot...
      for (let i = 0; i < 64; i++) s.write(lengthPrefixed(query(`hang${i}.hostile.test`, 'A', { id: 100 + i })));
    }
    // ...then each sends 512 frames of 16 KB, 8 MB, in 64-frame writes.
    for (let w = 0; w < 8; w++) {
      for (const s of conns) if (!s.destroyed) s.write(pile);
      await sleep(50);
    }
    const peak = await peakRss(hf.pid, 3_000);
    const grew = peak - start;
    console.log(`held queries: RSS ${(start / MiB).toFixed(1)} MiB -> peak ${(peak / MiB).toFixed(1)} MiB`);
    assert.ok(grew < 40 * MiB, `RSS grew by ${(grew / MiB).toFixed(1)} MiB`);
    for (const s of conns) s.destroy();
  });

  it('still answers a well-behaved client afterwards', async () => {
    const r = await tcpExchange(hf.port, [lengthPrefixed(query('after.hostile.test', 'A', { id: 0x6006 }))], 1, { timeoutMs: 8_000 });
    assert.equal(r.replies.length, 1);
    assert.equal(decode(r.replies[0]).id, 0x6006);
  });
});

describe('#15 - slots a TCP client can take', () => {
  const SLOW = 300;
  let fake: FakeUpstream;
  let hf: HoldfastProcess;
  const sockets: net.Socket[] = [];
  let stopped = false;
  before(async () => {
    fake = await startFakeUpstream();
    hf = await startHoldfast(['--upstream', fake.url.udp]);
  });
  after(async () => {
    stopped = true;
    for (const s of sockets) s.destroy();
    await hf?.stop();
    await fake?.close();
  });

  /** A client that sends one byte of a query every two seconds and connects again when closed. */
  async function trickle(): Promise<void> {
    const msg = lengthPrefixed(query('slow.hostile.test', 'A', { id: 7 }));
    for (let round = 0; round < 20 && !stopped; round++) {
      const s = await openQuiet(hf.port, sockets);
      for (let i = 0; i < msg.length && !stopped && !s.destroyed && s.readyState === 'open'; i++) {
        s.write(msg.subarray(i, i + 1));
        await sleep(2_000);
      }
      s.destroy();
      await sleep(50);
    }
  }

  it('#15 - answers a well-behaved client while 300 slow clients hold or try to take every slot', async () => {
    const running = Array.from({ length: SLOW }, () => trickle());
    // Every slot (256 by default) is taken before the well-behaved client comes.
    assert.ok(await until(() => sockets.filter((s) => s.readyState === 'open').length >= 256, 20_000));
    await sleep(1_000);
    let answered = 0;
    for (let i = 0; i < 3; i++) {
      const r = await tcpExchange(hf.port, [lengthPrefixed(query(`good${i}.hostile.test`, 'A', { id: 0x100 + i }))], 1, { timeoutMs: 8_000 });
      if (r.replies.length === 1 && decode(r.replies[0]).id === 0x100 + i) answered++;
    }
    assert.equal(answered, 3, 'a well-behaved client was not answered');
    stopped = true;
    for (const s of sockets) s.destroy();
    await Promise.all(running);
  });
});

describe('#15 - REFUSED replies cannot be used for reflection', () => {
  let fake: FakeUpstream;
  let hf: HoldfastProcess;
  let sock: dgram.Socket | null = null;
  before(async () => {
    fake = await startFakeUpstream();
    // Loopback is not allowed: it plays a refused client (a forged source, say).
    hf = await startHoldfast(['--upstream', fake.url.udp, '--allow', '10.0.0.0/8']);
  });
  after(async () => {
    sock?.close();
    await hf?.stop();
    await fake?.close();
  });

  it('#15 - sends only a small number of REFUSED replies to a burst of 300 queries over UDP', async () => {
    const s = dgram.createSocket('udp4');
    sock = s;
    let refused = 0;
    s.on('message', (m) => {
      if (decode(new Uint8Array(m)).rcode === 'REFUSED') refused++;
    });
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    for (let i = 0; i < 300; i++) s.send(query(`r${i}.hostile.test`, 'A', { id: i }), hf.port, '127.0.0.1');
    await until(() => refused >= 300, 2_000);
    assert.ok(refused > 0, 'a refused client should still see REFUSED');
    assert.ok(refused <= 100, `${refused} REFUSED replies to 300 queries`);
    // And over TCP, where the source is proven, it is told REFUSED, then the connection closes.
    const r = await tcpExchange(hf.port, [lengthPrefixed(query('t.hostile.test', 'A', { id: 9 }))], 2, { timeoutMs: 8_000 });
    assert.equal(r.replies.length, 1);
    assert.equal(decode(r.replies[0]).rcode, 'REFUSED');
    assert.equal(r.closedByServer, true);
  });
});
