// The one assembly of a running server, for `serve` and `relay` alike: the pipeline and the
// services around it (snapshot, prefetch, local subnets), the query path (gate, handle, query
// log), then the listeners (DNS, or the relay's HTTP), and the HTTP endpoint when configured.
// Returns a handle to stop or reload it; signals are lifecycle.ts's.

import { createCounters, type Counters } from '../core/counters.ts';
import type { ServerConfig, ListenAddress } from '../config/config.ts';
import { changedPaths, RELOADABLE } from '../config/derive.ts';
import { ErrorCode, HoldfastError } from '../core/errors.ts';
import { createHandle, type HandleOptions } from '../core/handle.ts';
import { createLatencyHistograms, type LatencyHistograms } from '../core/latency.ts';
import type { Closable, Runtime } from '../core/ports.ts';
import { createStreamServer } from '../core/stream-server.ts';
import { BUILD_TIME_MS, VERSION } from '../core/version.ts';
import { createAdmission, type Admission } from '../gate/admission.ts';
import { createPipeline } from '../pipeline/chain.ts';
import { createNetworkWatch } from '../services/network-watch.ts';
import { createLocalSubnetsWatcher, type LocalSubnetsEvent, type LocalSubnetsWatcher } from '../services/local-subnets.ts';
import type { LocalFilesEvent, LocalFilesService } from '../services/local-files/service.ts';
import { attachPrefetcher, type Prefetcher } from '../services/prefetch/prefetcher.ts';
import { createSnapshotService, type SnapshotEvent, type SnapshotService } from '../services/snapshot/service.ts';
import type { UpstreamEvent } from '../upstreams/transport.ts';
import { createClockGuard } from '../upstreams/clock-guard.ts';
import { readCaFile } from './ca-file.ts';
import { createDrain } from './drain.ts';
import { createHttpHandler } from './http/handler.ts';
import { createStaleWatch } from './http/health.ts';
import { bindDns, bindHttp, bindRelay, hostChecked } from './listeners.ts';
import { createQueryLog, queryLogEntry, type QueryLog } from './query-log.ts';
import { createQueryLogFile } from './query-log-file.ts';
import { udpErrorCounter, withUdpErrorsCounted } from './udp-listener.ts';
import type { BlockListEvent, BlockListService } from '../services/block-lists/service.ts';
import { startBlockLists, type BlockLists } from './block-lists.ts';
import { startLocalData } from './local-data.ts';
import { parseRewrite } from '../pipeline/rewrite/stage.ts';
import { rebindReporter, type RebindReport } from './rebind-report.ts';

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
  /** The hosts, lease and records files, watched for changes. */
  readonly localFiles: LocalFilesService;
  /** The block lists: read, downloaded and kept (src/services/block-lists). */
  readonly blockLists: BlockListService;
  stop(): Promise<void>;
  /**
   * SIGHUP: puts `next`'s upstreams, access lists and rate limits in force without touching the
   * cache, the listeners or queries in flight. Throws, changing nothing, if `next` cannot be
   * built. Returns the changed keys that take a restart (listen addresses, cache sizes...).
   */
  reload(next: ServerConfig): Promise<string[]>;
  /**
   * The network changed under us (#12; `why` says who noticed: SIGUSR2, the HTTP hook, the
   * interface watch): every pooled upstream connection is dropped, RTT estimates and breakers
   * reset, and the next queries redial. Changes within a second of the last are one.
   */
  networkChanged(why: string): void;
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
  /** A hosts, lease or records file was read (with its bad lines), went missing, or clashes. */
  onLocalFiles?(event: LocalFilesEvent): void;
  /** A block list was read, downloaded, found unchanged, or failed to download. */
  onBlockList?(event: BlockListEvent): void;
  /** Rebind protection stripped an answer: at most once per name per minute (rebind-report.ts). */
  onRebindBlocked?(event: RebindReport): void;
  /** The network changed and every upstream connection was dropped (#12): one log line. */
  onNetworkChanged?(why: string): void;
}


/**
 * At shutdown, how long answers already on their way may take before the sockets close. Short:
 * procd sends SIGKILL 5 s after SIGTERM, and the cache snapshot is written after this.
 */
const STOP_DRAIN_MS = 1_000;

/** Network changes reported within this long of the last one are the same change (#12). */
const NETWORK_QUIET_MS = 1_000;

/** Upstream kinds that keep connections open, which a network change leaves hanging. */
const POOLED = new Set(['tls', 'https', 'relay']);

/**
 * The cache's file, when `cache.file` is set, and its load under way: in slices, while the
 * listeners open and answer (a query for a name not loaded yet goes upstream, and waits for the
 * rest of the file only if that fails: see the cache stage), so a large file
 * delays neither the first answer nor any other for long (issue #11). Writes wait for the load.
 */
function restoreSnapshot(config: ServerConfig, runtime: Runtime, pipeline: ReturnType<typeof createPipeline>, counters: Counters, onSnapshot: ServerOptions['onSnapshot']) {
  if (!config.cache.file) return null;
  const snapshot = createSnapshotService(
    {
      file: config.cache.file,
      intervalSeconds: config.cache.snapshotIntervalSeconds,
      minChanges: config.cache.snapshotMinChanges,
      staleIfErrorSeconds: config.cache.staleIfErrorSeconds,
      maxTtlSeconds: config.cache.maxTtlSeconds,
    },
    // Between the slices of a write or load, a turn of the event loop: queries are answered
    // meanwhile, and no time is lost asleep (Timers.setImmediate).
    { ...runtime, yieldToLoop: () => new Promise<void>((resolve) => runtime.timers.setImmediate(resolve)) },
    pipeline.cache,
    counters,
    onSnapshot,
  );
  // load() never throws for a bad file (it sets it aside), so a damaged file cannot stop a start.
  return { snapshot, loaded: snapshot.load() };
}

/** Every query, answered or not, into the in-memory ring (/api/queries) and the file, when on. */
function queryRecorders(config: ServerConfig, runtime: Runtime, counters: Counters) {
  const ring = config.queryLog.maxEntries > 0 ? createQueryLog(config.queryLog.maxEntries) : null;
  // The file does not need the ring: --query-log-file alone writes every query to disk.
  const file = config.queryLog.file
    ? createQueryLogFile(
        { file: config.queryLog.file, maxFileBytes: config.queryLog.maxFileBytes, rotatedFiles: config.queryLog.rotatedFiles },
        runtime.fs,
        runtime.timers,
        counters,
      )
    : null;
  return { ring, file };
}

export async function startServer(
  config: ServerConfig,
  runtime: Runtime,
  handleOptions: HandleOptions = {},
  serverOptions: ServerOptions = {},
): Promise<RunningServer> {
  const counters = createCounters();
  const clock = runtime.clock;
  const caPem = await readCaFile(runtime, config.encryptedUpstream.caFile);
  const onRebindBlocked = rebindReporter(clock, serverOptions.onRebindBlocked);
  // The clock is wrong while it reads earlier than the build, or than the newest snapshot (#12).
  const clockGuard = createClockGuard(BUILD_TIME_MS, clock, (e) => serverOptions.onUpstreamEvent?.({ ...e, kind: 'connect-failed', code: null }));
  if (config.cache.file) clockGuard.atLeast((await runtime.fs.stat(config.cache.file))?.mtimeMs ?? 0);
  const pipeline = createPipeline(config, withUdpErrorsCounted(runtime, udpErrorCounter(counters)), counters, { caPem, onUpstreamEvent: serverOptions.onUpstreamEvent, onRebindBlocked, clockGuard });
  // Before anything listens: a relay that must be refused (relayUpstream.infoCheck) stops the start.
  await pipeline.preflight();
  // Local data and block lists before anything listens, so the first query already finds the
  // LAN's names and is checked against every list (kept copies of URL lists included).
  const local = await startLocalData(config, runtime, pipeline, counters, serverOptions.onLocalFiles);
  let lists: BlockLists;
  try {
    lists = await startBlockLists(config, runtime, pipeline, caPem, clockGuard, serverOptions.onBlockList);
  } catch (e) {
    local.files.stop();
    pipeline.closeUpstreams();
    throw e;
  }
  const restoring = restoreSnapshot(config, runtime, pipeline, counters, serverOptions.onSnapshot);
  const snapshot = restoring?.snapshot ?? null;
  const prefetcher = attachPrefetcher(pipeline, config, runtime, counters);
  // What the snapshot brought back is as popular as it was: the popular entries that expired
  // while we were down are refreshed first, as soon as an upstream answers.
  void restoring?.loaded.then(() => prefetcher.watchPopular());
  if (restoring) pipeline.cacheLoadingUntil(restoring.loaded);

  // Before the pipeline and before parsing: a refused or limited client costs an address
  // lookup and a token count, nothing more (src/gate/README.md). A reload replaces it.
  let admission = createAdmission(config.access, config.rateLimit, clock, counters);
  let lastLocal: Parameters<Admission['setLocalSubnets']>[0] = [];
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

  // The network changing under pooled connections (#12). Read often only where there are
  // connections to lose; SIGUSR2 and POST /api/network-changed work either way.
  const pooled = () => pipeline.pools.some((z) => z.pool.health.some((h) => POOLED.has(h.spec.protocol)));
  const network = createNetworkWatch(
    { intervalMs: pooled() ? config.encryptedUpstream.networkCheckSeconds * 1000 : 0, quietMs: NETWORK_QUIET_MS },
    () => runtime.interfaces.subnets(),
    runtime.timers,
    () => clock.now(),
    (why) => {
      for (const z of pipeline.pools) z.pool.networkChanged();
      // The LAN's prefixes may have moved with it (a renumbered IPv6 delegation).
      localSubnets?.refresh();
      serverOptions.onNetworkChanged?.(why);
    },
  );

  const latency = createLatencyHistograms();
  const recorders = queryRecorders(config, runtime, counters);
  const logHook = handleOptions.onAnswered;
  const drain = createDrain(
    createHandle(pipeline.chain, counters, {
      ...handleOptions,
      onAnswered:
        recorders.ring || recorders.file
          ? (h) => {
              const entry = queryLogEntry(h, clock.now());
              recorders.ring?.add(entry);
              recorders.file?.append(entry);
              logHook?.(h);
            }
          : logHook,
      latency: { histograms: latency, now: clock.monotonicMs ? () => clock.monotonicMs!() : () => clock.now() },
      admit: (address, transport) => admission.admitFrom(address, transport),
      hits: pipeline.hits,
    }),
    runtime.timers,
  );
  let stopping = false;
  const streams = createStreamServer(
    drain.handle,
    { ...config.tcp, admitConnection: (address) => admission.admitConnection(address) },
    { now: () => clock.now(), setTimeout: (fn, ms) => runtime.timers.setTimeout(fn, ms), clearTimeout: (h) => runtime.timers.clearTimeout(h), setImmediate: (fn) => runtime.timers.setImmediate(fn) },
    counters,
  );

  let current = config;
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
    localFiles: local.files,
    blockLists: lists.service,
    queryLog: recorders.ring,
    startedAtMs: clock.now(),
    version: VERSION,
    runtime: runtime.name,
    networkChanged: (why) => network.changed(why),
    async stop() {
      listenersBound = false;
      network.stop();
      staleWatch?.stop();
      prefetcher.stop();
      localSubnets?.stop();
      local.files.stop();
      lists.service.stop();
      // Stop accepting: no new TCP connections, and new UDP queries are dropped. The UDP
      // sockets and open TCP connections stay until the answers in flight are sent, or the
      // drain bound passes.
      stopping = true;
      await Promise.all(tcpListeners.map((c) => c.close()));
      await drain.settle(STOP_DRAIN_MS);
      pipeline.closeUpstreams();
      streams.closeAll();
      await Promise.all(closables.filter((c) => !tcpListeners.includes(c)).map((c) => c.close()));
      // After the listeners: nothing more can change the cache while it is written.
      await snapshot?.shutdown();
      await recorders.file?.stop();
    },
    async reload(next) {
      // Everything that can fail first, so a bad configuration changes nothing.
      const caPem = await readCaFile(runtime, next.encryptedUpstream.caFile);
      const nextAdmission = createAdmission(next.access, next.rateLimit, clock, counters);
      if (nextAdmission.usesLocal && !localSubnets) throw new HoldfastError(ErrorCode.config, 'access.allow: adding "local" takes a restart');
      local.check(next.local);
      next.rewrite.rules.forEach(parseRewrite);
      const commitLists = await lists.prepare(next, caPem);
      const oldPool = await pipeline.replaceUpstreams(next, { caPem, onUpstreamEvent: serverOptions.onUpstreamEvent, onRebindBlocked, clockGuard });
      pipeline.rewrite.configure({ rules: next.rewrite.rules, ttlSeconds: next.local.ttlSeconds });
      pipeline.guardStale(next.cache);
      nextAdmission.setLocalSubnets(lastLocal);
      admission = nextAdmission;
      // Every local file read again (a SIGHUP is how a changed file is put in force at once).
      await local.reconfigure(next.local);
      const needRestart = changedPaths(current, next).filter((k) => !RELOADABLE.has(k));
      const previous = current;
      current = next;
      await commitLists();
      // Queries already sent to the old upstreams may still be answered: close them after the
      // longest one of them may wait, which the old configuration set.
      runtime.timers.setTimeout(() => oldPool.close(), previous.upstream.totalTimeoutMs);
      return needRestart;
    },
  };

  try {
    // HTTP first, so that /readyz can say "not ready" while the DNS listeners are being bound.
    if (config.http.listen && staleWatch) {
      const l = config.http.listen;
      const h = await bindHttp(runtime, config, l, hostChecked(runtime, config, l.address, createHttpHandler(server, { token: config.http.token, clock, staleWatch })), 'http');
      closables.push(h);
      http = { address: config.http.listen.address, port: h.port };
    }
    if (serverOptions.mode === 'relay') {
      const h = await bindRelay(runtime, config, pipeline.chain, counters);
      closables.push(h);
      bound.push({ transport: 'http', address: config.relayServer.listen.address, port: h.port });
    } else {
      for (const l of config.listen) {
        const d = await bindDns(runtime, l, drain.handle, streams, counters, () => stopping);
        closables.push(d.udp, d.tcp);
        tcpListeners.push(d.tcp);
        bound.push({ transport: 'udp', address: l.address, port: d.port }, { transport: 'tcp', address: l.address, port: d.port });
      }
    }
  } catch (e) {
    staleWatch?.stop();
    lists.service.stop();
    await recorders.file?.stop();
    for (const c of closables) await c.close();
    pipeline.closeUpstreams();
    throw e;
  }

  listenersBound = true;
  if (serverOptions.mode !== 'relay') prefetcher.start();
  snapshot?.start();
  localSubnets?.start();
  network.start();
  local.files.start();
  return server;
}
