// startServer on a fake runtime: fake listeners, a fake network and a clock moved by hand, so
// what the assembly does with each datagram, each socket error and each reload is exact.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG, type ServerConfig } from '../../src/config/config.ts';
import type { DatagramReceiver, Peer, Runtime, UdpErrorHandler, UdpSocket } from '../../src/core/ports.ts';
import { startServer, type RunningServer } from '../../src/server/start.ts';
import { createFakeNet, dnsOverTls, drain, type Responder } from '../helpers/fake-net.ts';
import { createFakeTime, type FakeTime } from '../helpers/fake-clock.ts';
import { decode, query, reply } from '../helpers/packets.ts';

const UPSTREAM = '192.0.2.53:53';
// DoT: closing a pool shuts its connections, cutting off what is still in flight on them (a
// UDP pool has nothing to shut, so a reload's close delay shows only on TLS and HTTPS).
const DOT = '192.0.2.54:853';

/** The one UDP listener the server opens, as the test drives it. */
interface FakeListener {
  receive(bytes: Uint8Array, from: Peer): void;
  /** A socket error, as an adapter reports one. */
  error(op: 'send' | 'receive', e: Error): void;
  readonly sent: Array<{ bytes: Uint8Array; to: Peer }>;
  /** Makes every send throw, as a runtime's send did before adapters caught it. */
  throwOnSend: boolean;
}

function fakeRuntime(time: FakeTime, respond: Responder): { runtime: Runtime; listener: FakeListener } {
  const fake = createFakeNet({ [UPSTREAM]: { udp: respond }, [DOT]: { tls: dnsOverTls(respond) } });
  let onMessage: DatagramReceiver = () => {};
  let onError: UdpErrorHandler | undefined;
  const listener: FakeListener = {
    receive: (bytes, from) => onMessage(bytes, from.port, from.address),
    error: (op, e) => onError?.(op, e),
    sent: [],
    throwOnSend: false,
  };
  const runtime = {
    name: 'node',
    version: 'test',
    args: [],
    clock: time,
    timers: time,
    entropy: { random: () => 0.5, id16: () => 4242 },
    net: fake.net,
    listeners: {
      listenUdp(_address: string, port: number, receiver: DatagramReceiver, errors?: UdpErrorHandler): Promise<UdpSocket> {
        onMessage = receiver;
        onError = errors;
        return Promise.resolve({
          port: port || 5300,
          // As Bun's: done with the bytes on return, so what is kept here is a copy.
          sendsAtOnce: true,
          send(bytes: Uint8Array, toPort: number, toAddress: string) {
            if (listener.throwOnSend) throw new Error('send ECONNREFUSED');
            listener.sent.push({ bytes: bytes.slice(), to: { address: toAddress, port: toPort } });
          },
          close() {},
        });
      },
      listenTcp: () => Promise.resolve({ close() {} }),
      listenHttp: () => Promise.reject(new Error('no HTTP in this test')),
    },
    fs: {},
    interfaces: { subnets: () => [] },
    env: () => undefined,
    onSignal() {},
    exit() {
      throw new Error('exit');
    },
    stdout: { write() {} },
    stderr: { write() {} },
  } as unknown as Runtime;
  return { runtime, listener };
}

function config(totalTimeoutMs: number, upstream = `udp://${UPSTREAM}`): ServerConfig {
  return {
    ...DEFAULT_CONFIG,
    listen: [{ address: '127.0.0.1', port: 5300 }],
    upstreams: [upstream],
    upstream: { ...DEFAULT_CONFIG.upstream, totalTimeoutMs },
  };
}

const CLIENT: Peer = { address: '127.0.0.1', port: 40001 };

/** An upstream that answers each query after `delayMs` of fake time. */
const slow = (time: FakeTime, delayMs: number): Responder => (q, send) => {
  time.setTimeout(() => send(reply(q, { answers: [{ type: 'A', name: decode(q).questions[0].name, ttl: 300, class: 'IN', data: '192.0.2.1' }] })), delayMs);
};

async function withServer(time: FakeTime, respond: Responder, cfg: ServerConfig, body: (s: RunningServer, l: FakeListener) => Promise<void>) {
  const { runtime, listener } = fakeRuntime(time, respond);
  const server = await startServer(cfg, runtime);
  try {
    await body(server, listener);
  } finally {
    const stopped = server.stop();
    for (let i = 0; i < 50; i++) {
      time.advance(100);
      await drain();
    }
    await stopped;
  }
}

describe('startServer', () => {
  it('#10 - a query sent before a reload to a shorter timeout is still answered by the old upstreams', async () => {
    const time = createFakeTime();
    await withServer(time, slow(time, 1_500), config(3_000, `tls://${DOT}#dns.example`), async (server, listener) => {
      listener.receive(query('before-reload.test'), CLIENT);
      await drain();
      // The new timeout is shorter than the old one: the old pool must live for the old one
      // (3 s), not twice the new one (1 s), or this query is cut off at 1 s.
      await server.reload(config(500, `tls://${DOT}#dns.example`));
      for (let t = 0; t < 2_000; t += 100) {
        time.advance(100);
        await drain();
      }
      assert.equal(listener.sent.length, 1, 'the query sent before the reload is answered');
      assert.equal(decode(listener.sent[0].bytes).rcode, 'NOERROR');
      assert.equal(server.counters.answers_upstream, 1);
    });
  });

  it('#10 - drops a datagram from source port 0, answered or refused, before it reaches the pipeline', async () => {
    const time = createFakeTime();
    await withServer(time, slow(time, 10), config(3_000), async (server, listener) => {
      listener.receive(query('zero.test'), { address: '127.0.0.1', port: 0 });
      listener.receive(query('zero-public.test'), { address: '203.0.113.9', port: 0 });
      await drain();
      time.advance(100);
      await drain();
      assert.equal(listener.sent.length, 0);
      assert.equal(server.counters.dropped_source_port_zero, 2);
      assert.equal(server.counters.queries_udp, 0);
      assert.equal(server.counters.upstream_queries, 0);
    });
  });

  it('#10 - counts the errors a listener reports, by op', async () => {
    const time = createFakeTime();
    await withServer(time, slow(time, 10), config(3_000), async (server, listener) => {
      listener.error('receive', new Error('recv ECONNREFUSED'));
      listener.error('receive', new Error('recv ECONNREFUSED'));
      listener.error('send', new Error('send EINVAL'));
      assert.equal(server.counters.socket_errors_udp_receive, 2);
      assert.equal(server.counters.socket_errors_udp_send, 1);
    });
  });

  it('#10 - a send that throws is counted and goes no further than the listener', async () => {
    const time = createFakeTime();
    await withServer(time, slow(time, 50), config(3_000), async (server, listener) => {
      listener.throwOnSend = true;
      // A miss (its reply goes out from a promise) and a hit (sent from the receive callback).
      listener.receive(query('thrown.test'), CLIENT);
      for (let t = 0; t < 500; t += 100) {
        time.advance(100);
        await drain();
      }
      assert.doesNotThrow(() => listener.receive(query('thrown.test'), CLIENT));
      await drain();
      assert.equal(server.counters.answers_upstream, 1);
      assert.equal(server.counters.answers_cache_fresh, 1);
      assert.equal(server.counters.socket_errors_udp_send, 2);
    });
  });
});
