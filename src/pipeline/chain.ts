// THE order of the pipeline. A query enters at the top and each stage either answers or
// passes it down; the upstream stage at the bottom always answers or throws. Who may ask at
// all is decided before this, from the address alone (access/, wired in server/start.ts).

import type { Next, PassesOn, Stage } from '../core/answer.ts';
import type { Counters } from '../core/counters.ts';
import type { ServerConfig } from '../config/config.ts';
import type { CorePorts } from '../core/ports.ts';
import { createCacheStage } from './cache/stage.ts';
import { createCoalesceStage } from './coalesce/stage.ts';
import { anyPasses, createAnyStage } from './policy/any-stage.ts';
import { createHitPath } from './hit-path.ts';
import { createLocalStage } from './local/stage.ts';
import { localStageOptions, NO_FILES } from './local/setup.ts';
import { createBlockStage } from './block/stage.ts';
import { explainName, type Explainer } from './explain.ts';
import { Flag2, HEADER_BYTES, RRType, setU16 } from '../core/wire/header.ts';
import { textToName } from '../core/wire/names.ts';
import { parseQuery } from '../core/wire/query.ts';
import { firstAddress } from '../upstreams/bootstrap.ts';
import { ErrorCode, HoldfastError } from '../core/errors.ts';
import { parseProxyUrl, type ProxyUrl } from '../core/net/proxy-url.ts';
import { createBootstrap } from '../upstreams/bootstrap.ts';
import { isProxied, parseUpstream, type UpstreamSpec } from '../upstreams/spec.ts';
import { createUpstreamStage } from './upstream/stage.ts';
import { parseForwardZones } from './forward/zones.ts';
import { createRebindFilter } from './forward/rebind.ts';
import { createRouter } from './forward/route.ts';
import { createRewriteStage } from './rewrite/stage.ts';
import { createNtpFallback } from './upstream/ntp.ts';
import { relayClientSettings } from '../upstreams/relay/client.ts';
import type { EncryptedTransportSettings, HostResolver, UpstreamEvent } from '../upstreams/transport.ts';
import type { ClockGuard } from '../upstreams/clock-guard.ts';
import type { UpstreamPool } from '../upstreams/pool-types.ts';

/** What the pipeline gets from outside the configuration: files read, and where events go. */
export interface PipelineExtras {
  /** The text of encryptedUpstream.caFile. */
  readonly caPem?: string;
  readonly onUpstreamEvent?: (event: UpstreamEvent) => void;
  /** Rebind protection took `removed` LAN addresses out of an answer for `name` (every time: the server throttles its log). */
  readonly onRebindBlocked?: (name: string, removed: number) => void;
  /** Whether the clock can be believed for certificates' validity (#12); absent: always. */
  readonly clockGuard?: ClockGuard;
}

/**
 * The resolver for the host names we must look up ourselves: the upstreams', or with a proxy
 * only the proxy's (it resolves the upstreams' names). The --bootstrap upstreams, else the
 * plain ones configured, never Holdfast itself. Null when no name needs one.
 */
function bootstrapFor(config: ServerConfig, specs: readonly UpstreamSpec[], proxy: ProxyUrl | null, ports: CorePorts, counters: Counters): HostResolver | null {
  const named = proxy ? [] : specs.filter((s) => s.family === 0);
  const proxyNamed = proxy !== null && proxy.family === 0 && specs.some(isProxied);
  if (named.length === 0 && !proxyNamed) return null;
  const given = config.encryptedUpstream.bootstrap.map((text) => {
    const spec = parseUpstream(text);
    if (spec.protocol !== 'udp' && spec.protocol !== 'tcp') {
      throw new HoldfastError(ErrorCode.config, `bootstrap: "${text}" must be plain DNS, udp://IP or tcp://IP: it is what finds the encrypted upstreams`);
    }
    return spec;
  });
  const plain = given.length > 0 ? given : specs.filter((s) => s.protocol === 'udp' || s.protocol === 'tcp');
  if (plain.length === 0) {
    throw new HoldfastError(
      ErrorCode.config,
      proxyNamed
        ? `encryptedUpstream.proxy: "${proxy!.host}" is a host name, and nothing can resolve it: give the proxy's IP, or a plain upstream to look it up with --bootstrap udp://IP`
        : `upstream: "${named[0].label}" names a host, and nothing can resolve it: give its IP with the certificate name after # (like tls://1.1.1.1#cloudflare-dns.com), or a plain upstream to look it up with --bootstrap udp://IP`,
    );
  }
  return createBootstrap(plain, ports, counters);
}

/** encryptedUpstream.proxy parsed; validateConfig has already refused one that does not parse. */
function proxyOf(config: ServerConfig): ProxyUrl | null {
  const text = config.encryptedUpstream.proxy;
  if (text === null) return null;
  const proxy = parseProxyUrl(text);
  if (typeof proxy === 'string') throw new HoldfastError(ErrorCode.config, `config: encryptedUpstream.proxy ${proxy}`);
  return proxy;
}

/** An upstream pool with the forward zone it serves; null: the main upstreams. */
export interface ZonePool {
  /** The zone as given, without the final dot ("corp.example"); null for the main pool. */
  readonly zone: string | null;
  readonly pool: UpstreamPool;
}

export function compose(stages: readonly Stage[], last: Next): Next {
  return stages.reduceRight<Next>((next, stage) => (req) => stage(req, next), last);
}

/**
 * The upstreams, main and per forward zone, the router that picks among them (with rebind
 * protection), and the bootstrap resolver they share: what a reload (SIGHUP) replaces whole.
 * Every zone gets its own pool built exactly as the main one is, so health, hedging and retries
 * are the same; the cache above them all serves their answers stale alike.
 */
function createUpstreams(config: ServerConfig, ports: CorePorts, counters: Counters, extras: PipelineExtras) {
  const specs = config.upstreams.map(parseUpstream);
  const zones = parseForwardZones(config.forward.zones);
  const proxy = proxyOf(config);
  // The main upstreams first: a zone's LAN server finds the main upstreams' names only when
  // nothing else can.
  const bootstrap = bootstrapFor(config, [...specs, ...zones.flatMap((z) => z.upstreams)], proxy, ports, counters);
  const e = config.encryptedUpstream;
  const encrypted: EncryptedTransportSettings = {
    caPem: extras.caPem,
    paddingBlockBytes: e.paddingBlockBytes,
    idleTimeoutMs: e.idleTimeoutMs,
    connectTimeoutMs: e.connectTimeoutMs,
    silentConnectionMs: e.silentConnectionMs,
    httpConnections: e.httpConnections,
    resolveHost: bootstrap ?? undefined,
    proxy: proxy ?? undefined,
    onEvent: extras.onUpstreamEvent,
    clockGuard: extras.clockGuard,
    relay: relayClientSettings(config.relayUpstream),
  };
  const build = (upstreams: readonly UpstreamSpec[]) => createUpstreamStage({ ...config.upstream, upstreams, maxTtlSeconds: config.cache.maxTtlSeconds, encrypted }, ports, counters);
  const stage = build(specs);
  // NTP servers' names may go through the plain --bootstrap while no upstream answers (#12).
  const plain = config.encryptedUpstream.bootstrap.map(parseUpstream).filter((u) => u.protocol === 'udp' || u.protocol === 'tcp');
  const ntp = createNtpFallback(config.encryptedUpstream.ntpNames, plain, ports, counters);
  const main = ntp ? ntp.wrap(stage.next, () => stage.pool.healthy()) : stage.next;
  const zoneStages = zones.map((zone) => ({ zone, stage: build(zone.upstreams) }));
  const router = createRouter(
    {
      main,
      zones: zoneStages.map((z) => ({ zone: z.zone, next: z.stage.next })),
      rebind: createRebindFilter({ enabled: config.rebind.protection === 'on', allow: config.rebind.allow }),
      onRebindBlocked: extras.onRebindBlocked,
    },
    counters,
  );
  const pools = [stage.pool, ...zoneStages.map((z) => z.stage.pool)];
  const zonePools: ZonePool[] = [{ zone: null, pool: stage.pool }, ...zoneStages.map((z) => ({ zone: z.zone.name.replace(/\.$/, ''), pool: z.stage.pool }))];
  return { stage, router, zones, pools, zonePools, bootstrap, proxy };
}

type Upstreams = ReturnType<typeof createUpstreams>;

/** Every pool's checks (a relay's /v1/info); on a failure all are closed and the error thrown. */
async function preflightAll(u: Upstreams): Promise<void> {
  try {
    for (const pool of u.pools) await pool.preflight();
  } catch (e) {
    for (const pool of u.pools) pool.close();
    throw e;
  }
}

/** The zone names local data must leave to the forward zones (private reverse zones). */
const zoneNames = (u: Upstreams) => u.zones.map((z) => z.name);

/** The first address of `name` (A, then AAAA) as the stages of `next` answer it. */
async function resolveThrough(next: Next, name: string): Promise<string> {
  const wire = textToName(name);
  for (const type of [RRType.A, RRType.AAAA]) {
    const q = new Uint8Array(HEADER_BYTES + wire.length + 4);
    q[2] = Flag2.RD;
    setU16(q, 4, 1);
    q.set(wire, HEADER_BYTES);
    setU16(q, HEADER_BYTES + wire.length, type);
    setU16(q, HEADER_BYTES + wire.length + 2, 1);
    const parsed = parseQuery(q);
    if (!parsed.ok) throw new HoldfastError(ErrorCode.config, `"${name}" is not a name that can be asked for`);
    const answer = await next({ query: parsed.query, client: { address: '127.0.0.1', port: 0, transport: 'tcp' } });
    const found = answer.message ? firstAddress(answer.message.wire, type) : null;
    if (found) return found.address;
  }
  throw new HoldfastError(ErrorCode.upstreamNetwork, `no address for ${name}`);
}

export function createPipeline(config: ServerConfig, ports: CorePorts, counters: Counters, extras: PipelineExtras = {}) {
  let current = createUpstreams(config, ports, counters, extras);
  // Through `current`, so a reload swaps the upstreams under the cache and coalescing stages,
  // which keep their state; a query already sent finishes on the upstreams it went to. The
  // router at the bottom picks a forward zone's upstreams or the main ones: below the cache,
  // so a zone's answers are cached and served stale like any other (the question is the key).
  const upstreamNext: Next = (req) => current.router.next(req);
  // Hits tell the prefetcher (src/services/prefetch, built by the server around the pipeline)
  // what is popular, and it asks the cache to refresh through the stages below it.
  let onPopular: (key: string) => void = () => {};
  const cache = createCacheStage(
    {
      ...config.cache,
      popularity: {
        halfLifeSeconds: config.prefetch.popularityHalfLifeSeconds,
        minPopularity: config.prefetch.minPopularity,
        onPopular: (key) => onPopular(key),
      },
    },
    ports,
    counters,
  );
  const coalesce = createCoalesceStage(counters);
  // Built with the flags' records alone; the files come in through replace() once read
  // (src/services/local-files.ts), before any listener opens.
  const local = createLocalStage(localStageOptions(config.local, NO_FILES, zoneNames(current)), ports.clock);
  const rewrite = createRewriteStage({ rules: config.rewrite.rules, ttlSeconds: config.local.ttlSeconds });
  const belowCache = compose([coalesce.stage], upstreamNext);
  // Lists are put in force by src/services/block-lists; until then it passes everything on.
  const block = createBlockStage({ action: config.block.action, allowNames: config.block.allowNames });
  // What a name resolves to without the block stage: how a list's own host is found, through
  // our cache and upstreams and never the system resolver (which may be Holdfast itself).
  const belowBlock = compose([cache.stage, coalesce.stage], upstreamNext);
  const explainers: Explainer[] = [
    (name, qtype) => local.explain(name, qtype),
    (name, qtype) => rewrite.explain(name, qtype),
    (name, qtype) => block.explain(name, qtype),
    (name) => current.router.explain(name),
  ];
  // The stages above the cache, each with its word on which queries it passes on untouched:
  // a fresh cache hit is answered without them (and without the chain) when all of them would
  // pass it on (hit-path.ts). A stage put above the cache must come with its own.
  const aboveCache: ReadonlyArray<{ readonly stage: Stage; readonly passes: PassesOn }> = [
    { stage: createAnyStage(), passes: anyPasses }, // first: ANY over UDP must never reach an upstream (RFC 8482), whatever the name
    local, //    before block rules: a name of the LAN is answered even when a list holds it; private reverse zones end here, never forwarded
    rewrite, //  the user's own rules before subscribed lists; a CNAME target goes on through the stages below
    block, //    blocked names end here, before forward zones, the cache or an upstream
  ];
  const chain = compose(
    [
      ...aboveCache.map((s) => s.stage),
      cache.stage, //      fresh hits end here
      coalesce.stage, //   after the cache: only misses share exchanges
    ],
    upstreamNext,
  );
  return {
    chain,
    /** The chain's fresh cache hits without it, for handle()'s UDP fast path. */
    hits: createHitPath(aboveCache.map((s) => s.passes), cache.hits),
    cache: cache.store,
    /** --no-stale and --max-stale: put in force by guardStale() on SIGHUP. */
    guardStale: cache.guardStale,
    /** --rewrite rules: put in force by configure() on SIGHUP. */
    rewrite,
    /** The forward zones in force ("corp.example."), for local data's exemptions. */
    get forwardZones(): readonly string[] {
      return zoneNames(current);
    },
    /** Every upstream pool (main and forward zones) closed: at shutdown. */
    closeUpstreams() {
      for (const pool of current.pools) pool.close();
    },
    /** Every pool's checks (a relay's /v1/info) before the first query; closes all on a failure. */
    preflight: () => preflightAll(current),
    /** The main upstreams' pool (prefetch asks it whether upstreams are reachable). */
    get upstreams() {
      return current.stage.pool;
    },
    /** Every pool, the main one first, then each forward zone's: for /metrics, /readyz and the status page. */
    get pools(): readonly ZonePool[] {
      return current.zonePools;
    },
    get bootstrap() {
      return current.bootstrap;
    },
    /** The proxy the TLS upstreams are reached through; null: none. */
    get proxy() {
      return current.proxy;
    },
    inFlight: coalesce.inFlight,
    /** The cache file is loading until `loaded` settles (server/start.ts): see the cache stage. */
    cacheLoadingUntil: (loaded: Promise<unknown>) => cache.loadingUntil(loaded),
    /** Local data: replaced whole when a watched file changes or on SIGHUP. */
    local,
    /** The block stage: its lists are swapped in by the block-list service. */
    block,
    /** Which stage would answer `name`, and why (holdfast explain, /api/explain). */
    explain: (name: string, qtype: number) => explainName(explainers, name, qtype),
    /** Addresses through the cache and upstreams, below the block stage: for fetching lists. */
    resolveHost: {
      resolve: (name: string) => resolveThrough(belowBlock, name),
      forget: () => {},
    },
    /** Asks the stages below the cache for `key` again and caches what comes back (prefetch). */
    refresh: (key: string, entry: Parameters<typeof cache.refresh>[1]) => cache.refresh(key, entry, belowCache),
    /** Who hears of entries that became popular (the prefetcher). */
    set onPopular(hook: (key: string) => void) {
      onPopular = hook;
    },
    /**
     * New upstreams, forward zones and rebind settings from `next`; rejects, changing nothing,
     * when they cannot be built or fail their checks (a relay's /v1/info). Resolves with the old
     * pools, to close once their queries are done.
     */
    async replaceUpstreams(next: ServerConfig, nextExtras: PipelineExtras = extras) {
      const built = createUpstreams(next, ports, counters, nextExtras);
      await preflightAll(built);
      const old = current.pools;
      current = built;
      return { close: () => old.forEach((p) => p.close()) };
    },
  };
}
