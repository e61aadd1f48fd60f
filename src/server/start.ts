// Assembling a running server from a configuration and a runtime: the pipeline, the handle,
// and a UDP and a TCP listener on every address. Returns a handle to stop it.

import { createCounters, type Counters } from '../core/counters.ts';
import type { ServerConfig, ListenAddress } from '../core/config.ts';
import { ErrorCode, HoldfastError } from '../core/errors.ts';
import { createHandle, type HandleOptions } from '../core/handle.ts';
import type { Closable, Peer, Runtime, UdpSocket } from '../core/ports.ts';
import { createStreamServer } from '../core/stream-server.ts';
import { createPipeline } from '../pipeline/chain.ts';
import type { UpstreamEvent } from '../pipeline/upstream/transport.ts';

export interface ServerHooks {
  /** A TLS upstream failed to connect (once per reason), or works again: for one log line each. */
  readonly onUpstreamEvent?: (event: UpstreamEvent) => void;
}

export interface BoundListener {
  readonly transport: 'udp' | 'tcp';
  readonly address: string;
  readonly port: number;
}

export interface RunningServer {
  readonly counters: Counters;
  readonly listeners: readonly BoundListener[];
  readonly pipeline: ReturnType<typeof createPipeline>;
  stop(): Promise<void>;
}

const MAX_TCP_QUERY_BYTES = 16_384;
/** With port 0, UDP gets a kernel-chosen port and TCP must take the same; it may be taken. */
const SAME_PORT_TRIES = 8;

function describeBindError(l: ListenAddress, e: unknown): HoldfastError {
  const code = (e as { code?: string }).code ?? '';
  const where = l.address.includes(':') ? `[${l.address}]:${l.port}` : `${l.address}:${l.port}`;
  const why =
    code === 'EADDRINUSE' || /in use/i.test(String(e))
      ? 'is already in use'
      : code === 'EACCES' || /permission/i.test(String(e))
        ? 'needs privileges (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
        : code === 'EADDRNOTAVAIL' || /not available|cannot assign/i.test(String(e))
          ? 'is not an address of this machine'
          : `cannot be bound (${(e as Error).message ?? e})`;
  return new HoldfastError(ErrorCode.config, `listen: ${where} ${why}`);
}

/** The CA file's text, checked to hold at least one certificate. */
async function readCaFile(runtime: Runtime, path: string): Promise<string> {
  let text: string | null;
  try {
    text = await runtime.fs.readText(path);
  } catch (e) {
    throw new HoldfastError(ErrorCode.config, `--ca-file: ${path} cannot be read (${(e as Error).message})`);
  }
  if (text === null) throw new HoldfastError(ErrorCode.config, `--ca-file: ${path} does not exist`);
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new HoldfastError(ErrorCode.config, `--ca-file: ${path} holds no PEM certificate`);
  return text;
}

export async function startServer(config: ServerConfig, runtime: Runtime, handleOptions: HandleOptions = {}, hooks: ServerHooks = {}): Promise<RunningServer> {
  const counters = createCounters();
  const caFile = config.encryptedUpstream.caFile;
  const caPem = caFile === null ? undefined : await readCaFile(runtime, caFile);
  const pipeline = createPipeline(config, runtime, counters, { caPem, onUpstreamEvent: hooks.onUpstreamEvent });
  const handle = createHandle(pipeline.chain, counters, handleOptions);
  const streams = createStreamServer(
    handle,
    { ...config.tcp, maxQueryBytes: MAX_TCP_QUERY_BYTES },
    runtime.timers,
    counters,
  );
  const closables: Closable[] = [];
  const bound: BoundListener[] = [];

  const openUdp = (address: string, port: number): Promise<UdpSocket> => {
    let socket: UdpSocket | null = null;
    const pending: Array<[Uint8Array, string, number]> = [];
    const deliver = (reply: Uint8Array | null, to: Peer) => {
      if (!reply) return;
      if (socket) socket.send(reply, to.port, to.address);
      else pending.push([reply, to.address, to.port]);
    };
    return runtime.listeners
      .listenUdp(address, port, (bytes, from) => {
        const reply = handle(bytes, { address: from.address, port: from.port, transport: 'udp' });
        // A cache hit comes back synchronously: no closure or promise for it.
        if (reply instanceof Promise) reply.then((r) => deliver(r, from));
        else deliver(reply, from);
      })
      .then((s) => {
        socket = s;
        for (const [reply, addr, p] of pending) s.send(reply, p, addr);
        return s;
      });
  };

  try {
    for (const l of config.listen) {
      let udp: UdpSocket | null = null;
      let tcp: Closable | null = null;
      for (let tries = 0; tcp === null; tries++) {
        udp = await openUdp(l.address, l.port).catch((e) => {
          throw describeBindError(l, e);
        });
        try {
          tcp = await runtime.listeners.listenTcp(l.address, udp.port, (conn, from) => streams.accept(conn, from));
        } catch (e) {
          udp.close();
          if (l.port !== 0 || tries + 1 >= SAME_PORT_TRIES) throw describeBindError(l, e);
        }
      }
      closables.push(udp!, tcp);
      bound.push({ transport: 'udp', address: l.address, port: udp!.port }, { transport: 'tcp', address: l.address, port: udp!.port });
    }
  } catch (e) {
    for (const c of closables) await c.close();
    pipeline.upstreams.close();
    throw e;
  }

  pipeline.prefetcher.start();
  return {
    counters,
    listeners: bound,
    pipeline,
    async stop() {
      pipeline.prefetcher.stop();
      pipeline.upstreams.close();
      streams.closeAll();
      await Promise.all(closables.map((c) => c.close()));
    },
  };
}
