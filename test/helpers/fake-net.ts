// An in-memory network for pipeline tests: upstreams are functions that answer (or not) the
// queries sent to their "address:port", over UDP and TCP. Replies arrive in a later microtask,
// as from a real socket, and time only moves when the test moves a fake clock.

import type { ByteStream, Network, Peer, StreamHandlers, TlsOptions, TlsStream, UdpClientHandlers } from '../../src/core/ports.ts';
import { createFrameReader, frame } from '../../src/core/stream-framer.ts';

/** Answers one query; `send` may be called any number of times, now or later. */
export type Responder = (query: Uint8Array, send: (bytes: Uint8Array, from?: Peer) => void) => void;

export interface FakeUpstream {
  /** Absent: UDP queries go unanswered, or are refused with `refuseUdp`. */
  readonly udp?: Responder;
  /** Each UDP query draws an ICMP port unreachable: the socket reports ECONNREFUSED. */
  readonly refuseUdp?: boolean;
  /** Absent: the connection is refused. */
  readonly tcp?: Responder;
  /** Absent: TLS connections are refused. */
  readonly tls?: FakeTlsServer;
}

/** The server's end of one fake TLS connection. */
export interface FakeTlsPeer {
  readonly options: TlsOptions;
  /** Bytes to the client, delivered in a later microtask. */
  write(bytes: Uint8Array): void;
  /** Closes the connection from the server's side. */
  close(): void;
  readonly closed: boolean;
}

export interface FakeTlsServer {
  /** The SPKI hash the handshake shows, when the client asks for it. */
  readonly keySha256?: string;
  /**
   * Called for each handshake; throw to fail it (the error is the client's rejection).
   * Returns what happens to the client's bytes and to a close by the client.
   */
  accept(peer: FakeTlsPeer): { onData(bytes: Uint8Array): void; onClose?(): void };
}

/** A DoT server: DNS messages framed as over TCP, each answered by `respond`. */
export function dnsOverTls(respond: Responder, keySha256?: string): FakeTlsServer {
  return {
    keySha256,
    accept(peer) {
      const reader = createFrameReader(65535, (m) => respond(m, (b) => peer.write(frame(b))), () => peer.close());
      return { onData: (b) => reader.push(b) };
    },
  };
}

export interface SentQuery {
  readonly transport: 'udp' | 'tcp';
  /** "address:port" the query went to. */
  readonly to: string;
  readonly bytes: Uint8Array;
}

export interface FakeNet {
  readonly net: Network;
  /** Every query sent, in order. */
  readonly sent: SentQuery[];
  /** UDP sockets and TCP streams not yet closed. */
  readonly open: () => number;
  /** TLS handshakes attempted, in order, with what the client asked for. */
  readonly tlsConnects: Array<{ readonly to: string; readonly options: TlsOptions }>;
}

export function peerKey(address: string, port: number): string {
  return `${address}:${port}`;
}

export function createFakeNet(upstreams: Readonly<Record<string, FakeUpstream>>): FakeNet {
  const sent: SentQuery[] = [];
  const tlsConnects: Array<{ to: string; options: TlsOptions }> = [];
  let open = 0;
  const peerOf = (key: string): Peer => {
    const colon = key.lastIndexOf(':');
    return { address: key.slice(0, colon), port: Number(key.slice(colon + 1)) };
  };

  const net: Network = {
    connectUdp(address: string, port: number, handlers: UdpClientHandlers) {
      let closed = false;
      open++;
      const to = peerKey(address, port);
      return Promise.resolve({
        send(bytes: Uint8Array) {
          sent.push({ transport: 'udp', to, bytes: bytes.slice() });
          if (upstreams[to]?.refuseUdp) {
            // As the kernel reports it on a connected socket: on the next receive.
            const e = Object.assign(new Error('recvmsg ECONNREFUSED'), { code: 'ECONNREFUSED' });
            queueMicrotask(() => {
              if (!closed) handlers.onError(e);
            });
            return;
          }
          const respond = upstreams[to]?.udp;
          if (!respond) return;
          respond(bytes.slice(), (b, from = peerOf(to)) =>
            queueMicrotask(() => {
              if (!closed) handlers.onMessage(b, from);
            }),
          );
        },
        close() {
          if (closed) return;
          closed = true;
          open--;
        },
      });
    },
    connectTcp(address: string, port: number, handlers: StreamHandlers): Promise<ByteStream> {
      const to = peerKey(address, port);
      const respond = upstreams[to]?.tcp;
      if (!respond) return Promise.reject(new Error(`connect ECONNREFUSED ${to}`));
      let closed = false;
      open++;
      const reader = createFrameReader(
        65535,
        (message) => {
          sent.push({ transport: 'tcp', to, bytes: message });
          respond(message, (b) =>
            queueMicrotask(() => {
              if (!closed) handlers.onData(frame(b));
            }),
          );
        },
        () => {},
      );
      return Promise.resolve({
        write(bytes: Uint8Array) {
          if (!closed) reader.push(bytes.slice());
        },
        close() {
          if (closed) return;
          closed = true;
          open--;
        },
      });
    },
    connectTls(address: string, port: number, options: TlsOptions, handlers: StreamHandlers): Promise<TlsStream> {
      const to = peerKey(address, port);
      tlsConnects.push({ to, options });
      const server = upstreams[to]?.tls;
      if (!server) return Promise.reject(new Error(`connect ECONNREFUSED ${to}`));
      let closed = false;
      const closeBoth = (byServer: boolean) => {
        if (closed) return;
        closed = true;
        open--;
        if (byServer) queueMicrotask(() => handlers.onClose());
        else side.onClose?.();
      };
      const peer: FakeTlsPeer = {
        options,
        write(bytes) {
          const copy = bytes.slice();
          queueMicrotask(() => {
            if (!closed) handlers.onData(copy);
          });
        },
        close: () => closeBoth(true),
        get closed() {
          return closed;
        },
      };
      let side: ReturnType<FakeTlsServer['accept']>;
      try {
        side = server.accept(peer);
      } catch (e) {
        return Promise.reject(e);
      }
      open++;
      return Promise.resolve({
        peerKeySha256: options.peerKey ? (server.keySha256 ?? null) : null,
        write(bytes: Uint8Array) {
          if (closed) return;
          const copy = bytes.slice();
          queueMicrotask(() => {
            if (!closed) side.onData(copy);
          });
        },
        close: () => closeBoth(false),
      });
    },
  };
  return { net, sent, open: () => open, tlsConnects };
}

/** Lets queued microtasks (fake replies, promise chains) run, without moving any clock. */
export async function drain(rounds = 50): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/**
 * Waits for `p`, moving fake time forward `stepMs` at a time whenever nothing else can happen.
 * Throws if it has not settled after `maxSteps` steps: a hang is a failure, not a stuck test.
 * With `realTasks`, each step also lets the runtime's own tasks run (a macrotask), for code
 * that does real asynchronous work between fake timers: gzip, Response bodies.
 */
export async function settle<T>(p: Promise<T>, time: { advance(ms: number): void }, stepMs = 100, maxSteps = 1000, realTasks = false): Promise<T> {
  let done = false;
  const watched = p.then(
    (v) => {
      done = true;
      return v;
    },
    (e) => {
      done = true;
      throw e;
    },
  );
  watched.catch(() => {});
  for (let i = 0; i < maxSteps; i++) {
    if (realTasks) await new Promise((r) => setTimeout(r, 0));
    else await drain();
    if (done) return watched;
    time.advance(stepMs);
  }
  await drain();
  if (done) return watched;
  throw new Error(`did not settle within ${maxSteps * stepMs} ms of fake time`);
}
