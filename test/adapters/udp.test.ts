// The socket adapters of the runtime running this file, on real loopback sockets: both
// wildcards on one port, and sends that fail without throwing.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as bunTcp from '../../src/adapters/bun/tcp.ts';
import * as bunUdp from '../../src/adapters/bun/udp.ts';
import * as denoTcp from '../../src/adapters/deno/tcp.ts';
import * as denoUdp from '../../src/adapters/deno/udp.ts';
import * as nodeTcp from '../../src/adapters/node/tcp.ts';
import * as nodeUdp from '../../src/adapters/node/udp.ts';
import type { Closable, UdpSocket } from '../../src/core/ports.ts';
import { udpExchange } from '../helpers/dns-client.ts';
import { runtimeName } from '../helpers/runtime.ts';
import { until } from '../helpers/until.ts';

const udp = runtimeName === 'deno' ? denoUdp : runtimeName === 'bun' ? bunUdp : nodeUdp;
const tcp = runtimeName === 'deno' ? denoTcp : runtimeName === 'bun' ? bunTcp : nodeTcp;

describe(`UDP and TCP adapters (${runtimeName})`, () => {
  const open: Array<UdpSocket | Closable> = [];
  after(async () => {
    for (const c of open) await c.close();
  });

  it('#10 - binds 0.0.0.0 and :: on the same port, UDP and TCP, each answering its own family', { skip: runtimeName === 'deno' ? 'Deno has no IPv6-only option (next test)' : false }, async () => {
    const got: string[] = [];
    const v4 = await udp.listenUdp('0.0.0.0', 0, (bytes, port, address) => {
      got.push(`v4 ${address}`);
      v4.send(bytes, port, address);
    });
    open.push(v4);
    const v6 = await udp.listenUdp('::', v4.port, (bytes, port, address) => {
      got.push(`v6 ${address}`);
      v6.send(bytes, port, address);
    });
    open.push(v6);
    open.push(await tcp.listenTcp('0.0.0.0', v4.port, () => null));
    open.push(await tcp.listenTcp('::', v4.port, () => null));
    assert.ok(await udpExchange(v4.port, new Uint8Array([1, 2]), 2000, '127.0.0.1'));
    assert.ok(await udpExchange(v4.port, new Uint8Array([3, 4]), 2000, '::1'));
    // The IPv6 socket saw only IPv6: it is IPv6-only, not a dual-stack socket that won a race.
    assert.deepEqual(got, ['v4 127.0.0.1', 'v6 ::1']);
  });

  it('#10 - on Deno, [::] beside 0.0.0.0 fails with a message that says why and what to do', { skip: runtimeName === 'deno' ? false : 'Deno only' }, async () => {
    const v4 = await udp.listenUdp('0.0.0.0', 0, () => {});
    open.push(v4);
    await assert.rejects(udp.listenUdp('::', v4.port, () => {}), /Deno cannot make \[::\] IPv6-only, so listen on \[::\] alone/);
    const t4 = await tcp.listenTcp('0.0.0.0', v4.port, () => null);
    open.push(t4);
    await assert.rejects(tcp.listenTcp('::', v4.port, () => null), /Deno cannot make \[::\] IPv6-only/);
  });

  it('#11 - is done with the bytes when send() returns, where it says so (sendsAtOnce)', async () => {
    const got: number[][] = [];
    const receiver = await udp.listenUdp('127.0.0.1', 0, (bytes) => got.push([...bytes]));
    open.push(receiver);
    const sender = await udp.listenUdp('127.0.0.1', 0, () => {});
    open.push(sender);
    assert.equal(sender.sendsAtOnce, runtimeName === 'bun');
    if (!sender.sendsAtOnce) return;
    // One buffer, overwritten after each send, as the listener's fast path does with its replies.
    const buffer = new Uint8Array(3);
    for (let i = 0; i < 3; i++) {
      buffer.fill(i + 1);
      sender.send(buffer, receiver.port, '127.0.0.1');
    }
    buffer.fill(9);
    assert.ok(await until(() => got.length === 3, 2000), `received ${JSON.stringify(got)}`);
    assert.deepEqual(got, [[1, 1, 1], [2, 2, 2], [3, 3, 3]]);
  });

  it('#10 - a send to port 0 does not throw; the handler hears of it', async () => {
    const errors: string[] = [];
    const s = await udp.listenUdp('127.0.0.1', 0, () => {}, (op) => errors.push(op));
    open.push(s);
    assert.doesNotThrow(() => s.send(new Uint8Array([1]), 0, '127.0.0.1'));
    assert.ok(await until(() => errors.length > 0, 2000), 'the failed send is reported');
    assert.deepEqual(errors, ['send']);
  });

  it('#10 - an ICMP port unreachable is reported, never thrown, and the socket still receives', async () => {
    const errors: string[] = [];
    const got: number[] = [];
    const s = await udp.listenUdp('127.0.0.1', 0, (bytes) => got.push(bytes[0]), (op) => errors.push(op));
    open.push(s);
    const closed = await udp.listenUdp('127.0.0.1', 0, () => {});
    const nobody = closed.port;
    closed.close();
    for (let i = 0; i < 3; i++) {
      assert.doesNotThrow(() => s.send(new Uint8Array([i]), nobody, '127.0.0.1'));
      await new Promise((r) => setTimeout(r, 20));
    }
    const peer = await udp.listenUdp('127.0.0.1', 0, () => {});
    open.push(peer);
    peer.send(new Uint8Array([42]), s.port, '127.0.0.1');
    assert.ok(await until(() => got.includes(42), 2000), 'a datagram after the errors is still received');
    // Only Bun asks the kernel for ICMP errors (IP_RECVERR); Node's and Deno's sockets never see them.
    if (runtimeName === 'bun') assert.ok(errors.includes('receive'), JSON.stringify(errors));
    else assert.deepEqual(errors, []);
  });
});
