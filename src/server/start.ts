// Assembling a running server from a configuration and a runtime: the pipeline, the handle,
// and a UDP and a TCP listener on every address. Returns a handle to stop it.

import { createCounters, type Counters } from '../core/counters.ts';
import type { ServerConfig, ListenAddress } from '../core/config.ts';
import { ErrorCode, HoldfastError } from '../core/errors.ts';
import { createHandle, type HandleOptions } from '../core/handle.ts';
import type { Closable, Peer, Runtime, UdpSocket } from '../core/ports.ts';
import { createStreamServer } from '../core/stream-server.ts';
import { createAdmission, type Admission } from '../pipeline/access/admission.ts';
import { createLocalSubnetsWatcher, type LocalSubnetsEvent, type LocalSubnetsWatcher } from '../pipeline/access/local-subnets.ts';
import { createPipeline } from '../pipeline/chain.ts';
import { createSnapshotService, type SnapshotEvent, type SnapshotService } from '../pipeline/cache/snapshot/service.ts';

export interface BoundListener {
  readonly transport: 'udp' | 'tcp';
  readonly address: string;
  readonly port: number;
}

export interface RunningServer {
  readonly counters: Counters;
  readonly listeners: readonly BoundListener[];
  readonly pipeline: ReturnType<typeof createPipeline>;
  /** The cache's file, when `cache.file` is set. */
  readonly snapshot: SnapshotService | null;
  readonly admission: Admission;
  /** The subnets of this machine's interfaces, kept current, when the allow list says `local`. */
  readonly localSubnets: LocalSubnetsWatcher | null;
  /** Closes the listeners, then writes the cache snapshot if there is one. */
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** What happened to the cache snapshot (restored, set aside, written...), for the log. */
  onSnapshot?(event: SnapshotEvent): void;
  /** The interfaces' subnets changed, or could not be read (for `local` in the allow list). */
  onLocalSubnets?(event: LocalSubnetsEvent): void;
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

export async function startServer(
  config: ServerConfig,
  runtime: Runtime,
  handleOptions: HandleOptions = {},
  serverOptions: ServerOptions = {},
): Promise<RunningServer> {
  const counters = createCounters();
  const pipeline = createPipeline(config, runtime, counters);
  const snapshot = config.cache.file
    ? createSnapshotService(
        {
          file: config.cache.file,
          intervalSeconds: config.cache.snapshotIntervalSeconds,
          minChanges: config.cache.snapshotMinChanges,
          staleIfErrorSeconds: config.cache.staleIfErrorSeconds,
          maxTtlSeconds: config.cache.maxTtlSeconds,
        },
        runtime,
        pipeline.cache,
        counters,
        serverOptions.onSnapshot,
      )
    : null;
  // Before any listener opens, so the first query already finds what the file held. load()
  // never throws for a bad file (it sets it aside), so a damaged file cannot stop a start.
  await snapshot?.load();
  // What the snapshot brought back is as popular as it was: the popular entries that expired
  // while we were down are refreshed first, as soon as an upstream answers.
  if (snapshot) pipeline.prefetcher.watchPopular();
  // Before the pipeline and before parsing: a refused or limited client costs an address
  // lookup and a token count, nothing more (src/pipeline/access/README.md).
  const admission = createAdmission(config.access, config.rateLimit, runtime.clock, counters);
  // Read once now, before any listener opens, so the first LAN client is already known.
  const localSubnets = admission.usesLocal
    ? createLocalSubnetsWatcher(
        { intervalMs: config.access.localRefreshSeconds * 1000 },
        () => runtime.interfaces.subnets(),
        runtime.timers,
        admission.setLocalSubnets,
        serverOptions.onLocalSubnets,
      )
    : null;
  localSubnets?.refresh();
  const handle = createHandle(pipeline.chain, counters, { ...handleOptions, admit: admission.admit });
  const streams = createStreamServer(
    handle,
    { ...config.tcp, maxQueryBytes: MAX_TCP_QUERY_BYTES, admitConnection: admission.admitConnection },
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
    throw e;
  }

  pipeline.prefetcher.start();
  snapshot?.start();
  localSubnets?.start();

  return {
    counters,
    listeners: bound,
    pipeline,
    snapshot,
    admission,
    localSubnets,
    async stop() {
      pipeline.prefetcher.stop();
      localSubnets?.stop();
      streams.closeAll();
      await Promise.all(closables.map((c) => c.close()));
      // After the listeners: nothing more can change the cache while it is written.
      await snapshot?.shutdown();
    },
  };
}
