// Assembling a running server from a configuration and a runtime: the pipeline, the handle,
// a UDP and a TCP listener on every address, and the HTTP endpoint when configured. Returns a
// handle to stop it.

import { createCounters, type Counters } from '../core/counters.ts';
import type { ServerConfig, ListenAddress } from '../config/config.ts';
import { ErrorCode, HoldfastError } from '../core/errors.ts';
import { createHandle, type HandleOptions } from '../core/handle.ts';
import { createLatencyHistograms, type LatencyHistograms } from '../core/latency.ts';
import type { Closable, HttpHandler, HttpLimits, Peer, Runtime, UdpErrorHandler, UdpSocket } from '../core/ports.ts';
import { createStreamServer } from '../core/stream-server.ts';
import { VERSION } from '../core/version.ts';
import { createAdmission, type Admission } from '../gate/admission.ts';
import { createLocalSubnetsWatcher, type LocalSubnetsEvent, type LocalSubnetsWatcher } from '../services/local-subnets.ts';
import { createPipeline } from '../pipeline/chain.ts';
import { attachPrefetcher, type Prefetcher } from '../services/prefetch/prefetcher.ts';
import { createSnapshotService, type SnapshotEvent, type SnapshotService } from '../services/snapshot/service.ts';
import { changedPaths, RELOADABLE } from '../config/derive.ts';
import { describeBindErrorWithHolder } from './bind-error.ts';
import { createHttpHandler } from './http/handler.ts';
import { createHostCheck, isLoopbackAddress, withHostCheck } from './http/host-check.ts';
import { createBucketTable } from '../gate/token-bucket.ts';
import { createRelayHandler } from './relay/handler.ts';
import { DEFAULT_RELAY_LIMITS } from '../protocols/relay-v1.ts';
import { createStaleWatch } from './http/health.ts';
import { createQueryLog, queryLogEntry, type QueryLog } from './query-log.ts';
import { createQueryLogFile } from './query-log-file.ts';
import type { UpstreamEvent } from '../upstreams/transport.ts';

export interface BoundListener {
  /** http: the relay's listener (`holdfast relay`). */
  readonly transport: 'udp' | 'tcp' | 'http';
  readonly address: string;
  readonly port: number;
}

export interface RunningServer {
  readonly config: ServerConfig;
  readonly counters: Counters;
  readonly latency: LatencyHistograms;
  readonly listeners: readonly BoundListener[];
  /** True once every DNS listener is bound, false again once stop() begins: what /readyz reports. */
  readonly listenersBound: boolean;
  /** Where the HTTP endpoint listens, or null when it is off. */
  readonly http: ListenAddress | null;
  readonly pipeline: ReturnType<typeof createPipeline>;
  /** Keeps popular entries fresh (src/services/prefetch). */
  readonly prefetcher: Prefetcher;
  /** The cache's file, when `cache.file` is set. */
  readonly snapshot: SnapshotService | null;
  readonly admission: Admission;
  /** The last queries, when --query-log is on. */
  readonly queryLog: QueryLog | null;
  readonly startedAtMs: number;
  readonly version: string;
  readonly runtime: string;
  /** The subnets of this machine's interfaces, kept current, when the allow list says `local`. */
  readonly localSubnets: LocalSubnetsWatcher | null;
  stop(): Promise<void>;
  /**
   * SIGHUP: puts `next`'s upstreams, access lists and rate limits in force without touching the
   * cache, the listeners or queries in flight. Throws, changing nothing, if `next` cannot be
   * built. Returns the changed keys that take a restart (listen addresses, cache sizes...).
   */
  reload(next: ServerConfig): Promise<string[]>;
}


export interface ServerOptions {
  /**
   * What the server answers: DNS on `listen` (serve), or relay protocol v1 over HTTP on
   * `relayServer.listen` (relay), each through the same pipeline. Default dns.
   */
  readonly mode?: 'dns' | 'relay';
  /** What happened to the cache snapshot (restored, set aside, written...), for the log. */
  onSnapshot?(event: SnapshotEvent): void;
  /** A TLS upstream failed to connect (once per reason), or works again: for one log line each. */
  readonly onUpstreamEvent?: (event: UpstreamEvent) => void;
  /** The interfaces' subnets changed, or could not be read (for `local` in the allow list). */
  onLocalSubnets?(event: LocalSubnetsEvent): void;
}

const MAX_TCP_QUERY_BYTES = 16_384;
/**
 * At shutdown, how long answers already on their way may take before the sockets close. Short:
 * procd sends SIGKILL 5 s after SIGTERM, and the cache snapshot is written after this.
 */
const STOP_DRAIN_MS = 1_000;
/** From a relay request's head to its answer: its items wait on upstreams, within their own timeouts. */
const HTTP_REQUEST_TIMEOUT_MS = 30_000;
/** Relay clients whose rate state is kept; the least recently seen goes first. */
const RELAY_TRACKED_CLIENTS = 4_096;

/**
 * `holdfast relay` without a token answers whoever reaches it: only on loopback (behind a
 * reverse proxy that authenticates), unless the owner says outright that it is meant (#15).
 */
export function checkRelayExposure(config: ServerConfig): void {
  const r = config.relayServer;
  if (r.token === null && r.open !== 'yes' && !isLoopbackAddress(r.listen.address)) {
    throw new HoldfastError(
      ErrorCode.config,
      `relay: will not listen on ${r.listen.address} without a token: anyone who can reach it could use it (set --relay-token, listen on loopback, or say --relay-open yes)`,
    );
  }
}

/** With port 0, UDP gets a kernel-chosen port and TCP must take the same; it may be taken. */
const SAME_PORT_TRIES = 8;

/**
 * The runtime with the upstream sockets' errors counted too: the pipeline's own handler, if it
 * passes one, still gets each error.
 */
function withUdpErrorsCounted(runtime: Runtime, count: UdpErrorHandler): Runtime {
  const net = runtime.net;
  return {
    ...runtime,
    net: {
      ...net,
      bindUdp: (address, port, onMessage, onError) =>
        net.bindUdp(address, port, onMessage, (op, e) => {
          count(op, e);
          onError?.(op, e);
        }),
    },
  };
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

export async function startServer(
  config: ServerConfig,
  runtime: Runtime,
  handleOptions: HandleOptions = {},
  serverOptions: ServerOptions = {},
): Promise<RunningServer> {
  const counters = createCounters();
  // Socket errors (ICMP from an upstream that refuses or a client that has gone) are counted,
  // never logged per packet: on a lossy link clients give up all the time.
  const countUdpError: UdpErrorHandler = (op) => {
    if (op === 'send') counters.socket_errors_udp_send++;
    else counters.socket_errors_udp_receive++;
  };
  const caFile = config.encryptedUpstream.caFile;
  const caPem = caFile === null ? undefined : await readCaFile(runtime, caFile);
  const pipeline = createPipeline(config, withUdpErrorsCounted(runtime, countUdpError), counters, { caPem, onUpstreamEvent: serverOptions.onUpstreamEvent });
  // Before anything listens: a relay that must be refused (relayUpstream.infoCheck) stops the start.
  try {
    await pipeline.upstreams.preflight();
  } catch (e) {
    pipeline.upstreams.close();
    throw e;
  }
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
  const prefetcher = attachPrefetcher(pipeline, config, runtime, counters);
  // What the snapshot brought back is as popular as it was: the popular entries that expired
  // while we were down are refreshed first, as soon as an upstream answers.
  if (snapshot) prefetcher.watchPopular();
  // Before the pipeline and before parsing: a refused or limited client costs an address
  // lookup and a token count, nothing more (src/gate/README.md).
  let admission = createAdmission(config.access, config.rateLimit, runtime.clock, counters);
  let lastLocal: Parameters<Admission['setLocalSubnets']>[0] = [];
  let current = config;
  // Read once now, before any listener opens, so the first LAN client is already known.
  const localSubnets = admission.usesLocal
    ? createLocalSubnetsWatcher(
        { intervalMs: config.access.localRefreshSeconds * 1000 },
        () => runtime.interfaces.subnets(),
        runtime.timers,
        (cidrs) => {
          lastLocal = cidrs;
          admission.setLocalSubnets(cidrs);
        },
        serverOptions.onLocalSubnets,
      )
    : null;
  localSubnets?.refresh();
  const latency = createLatencyHistograms();
  const clock = runtime.clock;
  const queryLog = config.queryLog.maxEntries > 0 ? createQueryLog(config.queryLog.maxEntries) : null;
  // The file does not need the ring: --query-log-file alone writes every query to disk.
  const queryFile = config.queryLog.file
    ? createQueryLogFile(
        { file: config.queryLog.file, maxFileBytes: config.queryLog.maxFileBytes, rotatedFiles: config.queryLog.rotatedFiles },
        runtime.fs,
        runtime.timers,
        counters,
      )
    : null;
  const logHook = handleOptions.onAnswered;
  const handle = createHandle(pipeline.chain, counters, {
    ...handleOptions,
    onAnswered:
      queryLog || queryFile
        ? (h) => {
            const entry = queryLogEntry(h, clock.now());
            queryLog?.add(entry);
            queryFile?.append(entry);
            logHook?.(h);
          }
        : logHook,
    latency: { histograms: latency, now: clock.monotonicMs ? () => clock.monotonicMs!() : () => clock.now() },
    // Through `admission`, which a reload replaces.
    admit: (client) => admission.admit(client),
  });
  // Answers still on their way (misses), so that stop() can let them finish. A hit completes
  // synchronously and is never counted.
  let answersInFlight = 0;
  let onDrained: (() => void) | null = null;
  const answered = () => {
    if (--answersInFlight === 0) onDrained?.();
  };
  const trackedHandle: typeof handle = (bytes, client) => {
    const reply = handle(bytes, client);
    if (reply instanceof Promise) {
      answersInFlight++;
      reply.then(answered, answered);
    }
    return reply;
  };
  let stopping = false;
  const streams = createStreamServer(
    trackedHandle,
    { ...config.tcp, maxQueryBytes: MAX_TCP_QUERY_BYTES, admitConnection: (address) => admission.admitConnection(address) },
    runtime.timers,
    counters,
  );
  const closables: Closable[] = [];
  const tcpListeners: Closable[] = [];
  const bound: BoundListener[] = [];
  let listenersBound = false;
  let http: ListenAddress | null = null;
  const staleWatch = config.http.listen ? createStaleWatch(counters, clock, runtime.timers) : null;
  const server: RunningServer = {
    get config() {
      return current;
    },
    counters,
    latency,
    listeners: bound,
    get listenersBound() {
      return listenersBound;
    },
    get http() {
      return http;
    },
    pipeline,
    prefetcher,
    snapshot,
    get admission() {
      return admission;
    },
    localSubnets,
    queryLog,
    startedAtMs: clock.now(),
    version: VERSION,
    runtime: runtime.name,
    async stop() {
      listenersBound = false;
      staleWatch?.stop();
      prefetcher.stop();
      localSubnets?.stop();
      // Stop accepting: no new TCP connections, and new UDP queries are dropped. The UDP
      // sockets and open TCP connections stay until the answers in flight are sent, or the
      // drain bound passes.
      stopping = true;
      await Promise.all(tcpListeners.map((c) => c.close()));
      if (answersInFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = runtime.timers.setTimeout(resolve, STOP_DRAIN_MS);
          onDrained = () => {
            runtime.timers.clearTimeout(timer);
            resolve();
          };
        });
        // The last replies were handed to their sockets in this same turn; a send is queued,
        // not done (Node's dgram finishes it on a later tick), so let them leave before closing.
        await new Promise<void>((resolve) => runtime.timers.setTimeout(resolve, 20));
      }
      pipeline.upstreams.close();
      streams.closeAll();
      await Promise.all(closables.filter((c) => !tcpListeners.includes(c)).map((c) => c.close()));
      // After the listeners: nothing more can change the cache while it is written.
      await snapshot?.shutdown();
      await queryFile?.stop();
    },
    async reload(next) {
      // Everything that can fail first, so a bad configuration changes nothing.
      const nextCa = next.encryptedUpstream.caFile;
      const caPem = nextCa === null ? undefined : await readCaFile(runtime, nextCa);
      const nextAdmission = createAdmission(next.access, next.rateLimit, clock, counters);
      if (nextAdmission.usesLocal && !localSubnets) throw new HoldfastError(ErrorCode.config, 'access.allow: adding "local" takes a restart');
      const oldPool = await pipeline.replaceUpstreams(next, { caPem, onUpstreamEvent: serverOptions.onUpstreamEvent });
      nextAdmission.setLocalSubnets(lastLocal);
      admission = nextAdmission;
      const needRestart = changedPaths(current, next).filter((k) => !RELOADABLE.has(k));
      const previous = current;
      current = next;
      // Queries already sent to the old upstreams may still be answered: close them after the
      // longest one of them may wait, which the old configuration set.
      runtime.timers.setTimeout(() => oldPool.close(), previous.upstream.totalTimeoutMs);
      return needRestart;
    },
  };

  const openUdp = (address: string, port: number): Promise<UdpSocket> => {
    let socket: UdpSocket | null = null;
    const pending: Array<[Uint8Array, string, number]> = [];
    const send = (s: UdpSocket, reply: Uint8Array, to: Peer) => {
      // Adapters never throw from send (core/ports.ts); should one, the error is counted here
      // rather than thrown into a receive callback or left as an unhandled rejection.
      try {
        s.send(reply, to.port, to.address);
      } catch {
        counters.socket_errors_udp_send++;
      }
    };
    const deliver = (reply: Uint8Array | null, to: Peer) => {
      if (!reply) return;
      if (socket) send(socket, reply, to);
      else pending.push([reply, to.address, to.port]);
    };
    return runtime.listeners
      .listenUdp(
        address,
        port,
        (bytes, from) => {
          if (stopping) return;
          // No reply can reach port 0 (and Node's dgram throws on sending to it): such a datagram
          // is forged or broken, so it costs nothing more, not even an upstream query.
          if (from.port === 0) {
            counters.dropped_source_port_zero++;
            return;
          }
          const reply = trackedHandle(bytes, { address: from.address, port: from.port, transport: 'udp' });
          // A cache hit comes back synchronously: no closure or promise for it.
          if (reply instanceof Promise) reply.then((r) => deliver(r, from));
          else deliver(reply, from);
        },
        countUdpError,
      )
      .then((s) => {
        socket = s;
        for (const [reply, addr, p] of pending) send(s, reply, { address: addr, port: p });
        return s;
      });
  };

  const httpLimits: HttpLimits = {
    maxConnections: config.http.maxConnections,
    headersTimeoutMs: config.http.headersTimeoutSeconds * 1000,
    requestTimeoutMs: HTTP_REQUEST_TIMEOUT_MS,
  };
  /** `handler` answering only requests whose Host names us (see http/host-check.ts). */
  const hostChecked = (address: string, handler: HttpHandler): HttpHandler =>
    withHostCheck(
      handler,
      createHostCheck({
        listenAddress: address,
        allowedHosts: config.http.allowedHosts,
        interfaceAddresses: () => runtime.interfaces.subnets().map((n) => n.address),
      }),
    );

  try {
    if (serverOptions.mode === 'relay') checkRelayExposure(config);
    // HTTP first, so that /readyz can say "not ready" while the DNS listeners are being bound.
    if (config.http.listen && staleWatch) {
      const l = config.http.listen;
      const handler = hostChecked(l.address, createHttpHandler(server, { token: config.http.token, clock, staleWatch }));
      const h = await runtime.listeners.listenHttp(l.address, l.port, handler, httpLimits).catch(async (e) => {
        throw await describeBindErrorWithHolder(runtime.fs, l, 'tcp', e, 'http');
      });
      closables.push(h);
      http = { address: l.address, port: h.port };
    }
    if (serverOptions.mode === 'relay') {
      const l = config.relayServer.listen;
      // Relay clients are not DNS clients: the relay's token says who may ask, not the access lists.
      const resolve = createHandle(pipeline.chain, counters);
      const r = config.relayServer;
      // Per client address, in items: each is a lookup, perhaps an upstream query.
      const buckets = r.perClientQps > 0 ? createBucketTable({ perSecond: r.perClientQps, burst: r.perClientBurst }, RELAY_TRACKED_CLIENTS) : null;
      const fetch = createRelayHandler({
        admitItem: buckets ? (from) => buckets.take(from.address, clock.now()) : undefined,
        limits: { ...DEFAULT_RELAY_LIMITS, max_items: config.relayServer.maxItems, max_request_bytes: config.relayServer.maxRequestBytes },
        token: config.relayServer.token,
        basePath: config.relayServer.basePath ?? undefined,
        // TCP's size limit: the relay carries whole answers, never truncated ones.
        resolve: async (q, from) => resolve(q, { address: from.address, port: from.port, transport: 'tcp' }),
      });
      // The Host check only without a token: with one, a rebound page gets nothing but 401s,
      // and a relay behind a TLS terminator or reverse proxy sees that proxy's public name.
      const relayFetch: HttpHandler = (request, from) => fetch(request, from);
      const h = await runtime.listeners.listenHttp(l.address, l.port, r.token === null ? hostChecked(l.address, relayFetch) : relayFetch, httpLimits).catch(async (e) => {
        throw await describeBindErrorWithHolder(runtime.fs, l, 'tcp', e);
      });
      closables.push(h);
      bound.push({ transport: 'http', address: l.address, port: h.port });
    }
    for (const l of serverOptions.mode === 'relay' ? [] : config.listen) {
      let udp: UdpSocket | null = null;
      let tcp: Closable | null = null;
      for (let tries = 0; tcp === null; tries++) {
        udp = await openUdp(l.address, l.port).catch(async (e) => {
          throw await describeBindErrorWithHolder(runtime.fs, l, 'udp', e);
        });
        try {
          tcp = await runtime.listeners.listenTcp(l.address, udp.port, (conn, from) => streams.accept(conn, from));
        } catch (e) {
          udp.close();
          if (l.port !== 0 || tries + 1 >= SAME_PORT_TRIES) throw await describeBindErrorWithHolder(runtime.fs, l, 'tcp', e);
        }
      }
      closables.push(udp!, tcp);
      tcpListeners.push(tcp);
      bound.push({ transport: 'udp', address: l.address, port: udp!.port }, { transport: 'tcp', address: l.address, port: udp!.port });
    }
  } catch (e) {
    staleWatch?.stop();
    await queryFile?.stop();
    for (const c of closables) await c.close();
    pipeline.upstreams.close();
    throw e;
  }

  listenersBound = true;
  if (serverOptions.mode !== 'relay') prefetcher.start();
  snapshot?.start();
  localSubnets?.start();
  return server;
}
