// The TCP listener adapter of the runtime running this file, on real loopback sockets: what it
// reports to the core about answers a client has not read (#15), and that pausing reading
// stops onData until resume().

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import * as bunTcp from '../../src/adapters/bun/tcp.ts';
import * as denoTcp from '../../src/adapters/deno/tcp.ts';
import * as nodeTcp from '../../src/adapters/node/tcp.ts';
import type { Closable, TcpConnection } from '../../src/core/ports.ts';
import { freePort } from '../helpers/ports.ts';
import { runtimeName } from '../helpers/runtime.ts';
import { until } from '../helpers/until.ts';

const tcp = runtimeName === 'deno' ? denoTcp : runtimeName === 'bun' ? bunTcp : nodeTcp;

describe(`TCP listener adapter (${runtimeName})`, () => {
  const open: Closable[] = [];
  const clients: net.Socket[] = [];
  after(async () => {
    for (const c of clients) c.destroy();
    for (const c of open) await c.close();
  });

  it('#15 - reports unsent bytes while the client does not read, and a drain once it does', async () => {
    const port = await freePort();
    let conn: TcpConnection | null = null;
    let drains = 0;
    open.push(
      await tcp.listenTcp('127.0.0.1', port, (c) => {
        conn = c;
        return { onData: () => {}, onDrain: () => drains++, onClose: () => {} };
      }),
    );
    const client = net.connect({ port, host: '127.0.0.1' });
    clients.push(client);
    client.on('error', () => {});
    client.pause();
    let received = 0;
    client.on('data', (d: Buffer) => (received += d.length));
    assert.ok(await until(() => conn !== null));
    const c = conn as unknown as TcpConnection;
    // 64 MB cannot all sit in the kernel's buffers: most of it waits in the process.
    const chunk = new Uint8Array(1024 * 1024);
    for (let i = 0; i < 64; i++) c.write(chunk);
    assert.ok(await until(() => c.bufferedBytes > 8 * 1024 * 1024, 5_000), `only ${c.bufferedBytes} bytes reported unsent`);
    assert.equal(drains, 0);
    client.resume();
    assert.ok(await until(() => drains > 0, 30_000), 'no drain reported after the client read everything');
    assert.equal(c.bufferedBytes, 0);
    assert.ok(await until(() => received === 64 * 1024 * 1024, 30_000));
    c.close();
  });

  it('#15 - stops delivering data while paused, and delivers it after resume()', async () => {
    const port = await freePort();
    let conn: TcpConnection | null = null;
    let got = 0;
    open.push(
      await tcp.listenTcp('127.0.0.1', port, (c) => {
        conn = c;
        c.pause();
        return { onData: (b) => (got += b.length), onClose: () => {} };
      }),
    );
    const client = net.connect({ port, host: '127.0.0.1' });
    clients.push(client);
    client.on('error', () => {});
    assert.ok(await until(() => conn !== null));
    client.write(new Uint8Array(1000));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(got, 0, 'data delivered while paused');
    (conn as unknown as TcpConnection).resume();
    assert.ok(await until(() => got === 1000));
    (conn as unknown as TcpConnection).close();
  });
});
