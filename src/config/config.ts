// The server's configuration as the code sees it: its shape. What each setting means, its
// default, range, flag and variable are in the settings table (settings.ts); the defaults and
// the range checks come from there. Checked once, when the server is built, never on the query
// path.

import { checkSettings, configError, defaults } from './derive.ts';
import type { ListenAddress } from './kinds.ts';

export { configError };
export type { ListenAddress };
export { DEFAULT_DNS_PORT } from './settings.ts';

export interface ServerConfig {
  readonly listen: readonly ListenAddress[];
  readonly upstreams: readonly string[];
  readonly cache: {
    /** A second bound beside maxBytes: see DEFAULT_CONFIG. */
    readonly maxEntries: number;
    /** What the entries may cost in all, as the cache store counts them (store.ts entryBytes). */
    readonly maxBytes: number;
    readonly minTtlSeconds: number;
    readonly maxTtlSeconds: number;
    readonly negativeMaxTtlSeconds: number;
    readonly servfailTtlSeconds: number;
    /** How long past expiry an entry is answered at once while it is refreshed in the background. */
    readonly staleWhileRevalidateSeconds: number;
    /** RFC 8767: how long past expiry an entry may still be served when upstreams fail. */
    readonly staleIfErrorSeconds: number;
    /** Names (and the names under them) never answered from expired data. */
    readonly noStale: readonly string[];
    /** "DOMAIN=SECONDS": names at or under DOMAIN are served stale for at most SECONDS past expiry. */
    readonly maxStale: readonly string[];
    /** The TTL a stale answer carries (RFC 8767 §4 suggests 30). */
    readonly staleAnswerTtlSeconds: number;
    /** After a failed refresh, how long stale answers are given without asking again. */
    readonly staleRecheckSeconds: number;
    /** How long a client with a stale entry waits for upstreams before getting it (§5's 1.8 s). */
    readonly staleClientWaitMs: number;
    /** Where the cache is saved across restarts (a snapshot), or null to keep it in memory only. */
    readonly file: string | null;
    /** How often the snapshot is rewritten; each write wears the router's flash a little. */
    readonly snapshotIntervalSeconds: number;
    /** A periodic write is skipped until at least this many answers were cached since the last. */
    readonly snapshotMinChanges: number;
  };
  readonly upstream: {
    /** How long a client query may wait for upstreams in all. */
    readonly totalTimeoutMs: number;
    /** Copies of one query sent in all, first send included. */
    readonly maxAttempts: number;
    /** Retransmit timeout before an upstream's RTT is measured, and its bounds (RFC 6298 style). */
    readonly rtoInitialMs: number;
    readonly rtoMinMs: number;
    readonly rtoMaxMs: number;
    /** Retries (every copy after the first) allowed per query, over a 10 s window. */
    readonly retryRatio: number;
    /** Retries always allowed per second, so a quiet network can still retry its few queries. */
    readonly retryMinPerSecond: number;
    /** Silent copies in a row that open an upstream's circuit breaker... */
    readonly breakerFailures: number;
    /** ...counted only once nothing has been heard from it for this long. */
    readonly breakerSilenceMs: number;
    /** First wait before an open breaker lets a probe through; it doubles up to the max. */
    readonly breakerCooldownMs: number;
    readonly breakerMaxCooldownMs: number;
    /** Copies in flight to one upstream; beyond it that upstream is passed over. */
    readonly maxInFlightPerUpstream: number;
    /** Queries in flight to upstreams in all; beyond it queries fail fast (stale or SERVFAIL). */
    readonly maxInFlight: number;
  };
  readonly prefetch: {
    /** Refreshes of popular entries per minute at most; 0 turns prefetch off. */
    readonly queriesPerMinute: number;
    /** Bytes per hour prefetch may use (queries and replies with headers); 0 for no limit. */
    readonly bytesPerHour: number;
    /** Decayed hits from which an entry is kept fresh. */
    readonly minPopularity: number;
    readonly popularityHalfLifeSeconds: number;
    /** A popular entry is refreshed when this share of its TTL is left. */
    readonly leadFraction: number;
  };
  readonly tcp: {
    readonly idleTimeoutMs: number;
    readonly maxConnections: number;
    readonly maxInFlightPerConnection: number;
    /** Unsent answer bytes of all client connections together (src/core/stream-server.ts). */
    readonly maxUnsentBytes: number;
  };
  /** Which clients are answered at all (src/gate/README.md). */
  readonly access: {
    /**
     * Prefixes ("10.0.0.0/8", "fd00::/8", a bare address), "private" for PRIVATE_RANGES, or
     * "local" for the subnets of this machine's interfaces, read live.
     */
    readonly allow: readonly string[];
    /** Prefixes never answered, even when inside `allow`. */
    readonly deny: readonly string[];
    /** What a client outside `allow` or inside `deny` gets: REFUSED, or no reply at all. */
    readonly refuseAction: 'refuse' | 'drop';
    /** REFUSED replies per second over UDP, all together; 0 for no limit. */
    readonly refusedPerSecond: number;
    /** How often the interfaces are read again for "local" (a renumbered ISP prefix). */
    readonly localRefreshSeconds: number;
  };
  /** Abuse limits per client prefix and in total (src/gate/README.md). */
  readonly rateLimit: {
    /** Average queries per second per client prefix, per transport; 0 turns it off. */
    readonly perClientQps: number;
    /** How many queries a client prefix may send at once before the average applies. */
    readonly perClientBurst: number;
    /** A client is its address's first this-many bits: 32 (one address) for IPv4... */
    readonly ipv4PrefixBits: number;
    /** ...and 64 for IPv6, where one host (or one LAN) owns a whole /64. */
    readonly ipv6PrefixBits: number;
    /** Average queries per second from all limited clients together; 0 turns it off. */
    readonly globalQps: number;
    readonly globalBurst: number;
    /** A client over a limit: TC=1 over UDP (REFUSED over TCP), REFUSED, or no reply. */
    readonly action: 'truncate' | 'refuse' | 'drop';
    /** Prefixes no limit applies to (queries or TCP connections per client); "none" for none. */
    readonly exempt: readonly string[];
    /** Most client prefixes whose rate state is kept; the least recently seen goes first. */
    readonly maxTrackedClients: number;
    /** Most TCP connections one client prefix may hold open; 0 turns the cap off. */
    readonly tcpConnectionsPerClient: number;
  };
  /** Block lists (src/pipeline/block, docs/filtering.md). */
  readonly block: {
    /** Files and https:// URLs, in the order they are consulted (the first holding a name is named). */
    readonly lists: readonly string[];
    /** Names exempt from every list, with every name under them. */
    readonly allowNames: readonly string[];
    readonly action: 'null' | 'nxdomain' | 'refused';
    /** How often each URL list is downloaded again (conditionally). */
    readonly refreshSeconds: number;
    /** Where URL lists are kept between starts; null: no URL lists allowed. */
    readonly listsDir: string | null;
    /** A download larger than this is refused and the last good copy kept. */
    readonly maxListBytes: number;
  };
  readonly http: {
    /** Where /metrics, /healthz, /readyz and the status page are served; null: no HTTP at all. */
    readonly listen: ListenAddress | null;
    /** A bearer token every path but /healthz requires; null: none. */
    readonly token: string | null;
    /** Host header values answered besides our own addresses (against DNS rebinding). */
    readonly allowedHosts: readonly string[];
    readonly maxConnections: number;
    readonly headersTimeoutSeconds: number;
  };
  readonly queryLog: {
    /** The last this many queries are kept in memory for /api/queries; 0: no query log. */
    readonly maxEntries: number;
    /** Every query is also written to this file, one JSON object a line (even with maxEntries 0); null: no file. */
    readonly file: string | null;
    /** The file is rotated before it would grow past this many bytes. */
    readonly maxFileBytes: number;
    /** Rotated files kept beside it: file.1 (newest) to file.N. */
    readonly rotatedFiles: number;
  };
  /** tls:// (DoT) and https:// (DoH) upstreams. */
  readonly encryptedUpstream: {
    /** PEM file of CAs trusted instead of the system store; null: the system store. */
    readonly caFile: string | null;
    /** Plain upstreams (udp://IP, tcp://IP) that resolve upstreams given by host name; empty: the plain ones among `upstreams`. */
    readonly bootstrap: readonly string[];
    /**
     * An HTTP proxy every TLS connection to an upstream goes through (CONNECT):
     * http://[USER:PASS@]HOST[:PORT], port 1080 when left out; null: connect directly.
     */
    readonly proxy: string | null;
    /** RFC 8467: queries padded to a multiple of this many bytes; 0 turns padding off. */
    readonly paddingBlockBytes: number;
    /** An upstream connection with nothing in flight is closed after this long. */
    readonly idleTimeoutMs: number;
    /** TCP and TLS handshakes together may take this long. */
    readonly connectTimeoutMs: number;
    /**
     * DoT: a connection with a query unanswered this long and nothing received since is taken as
     * dead and replaced. DoH and relays: such a connection keeps its request but stops counting
     * against httpConnections, so other requests get connections of their own (twice as many at most).
     */
    readonly silentConnectionMs: number;
    /** DoH and relays: HTTP/1.1 connections per upstream, one request at a time on each. */
    readonly httpConnections: number;
    /**
     * NTP servers' names (#12): asked of the bootstrap upstreams while no upstream answers, so
     * a router whose clock is wrong at boot (and whose certificates therefore fail) can set it.
     */
    readonly ntpNames: readonly string[];
    /** How often the interface addresses are compared for a network change (#12); 0: never. */
    readonly networkCheckSeconds: number;
  };
  /** relay+https:// and relay+http:// upstreams (relay protocol v1, docs/relay.md). */
  readonly relayUpstream: {
    /** Bearer token for relays whose URL has no ?token=; null: none. */
    readonly token: string | null;
    /** How long the first question of a batch waits for others to join it. */
    readonly batchWindowMs: number;
    /** At start: refuse (require), log (warn) or skip (off) a relay whose /v1/info does not fit. */
    readonly infoCheck: 'require' | 'warn' | 'off';
    /** Our limits, as the protocol names them; batches never pass them nor the relay's. */
    readonly maxItems: number;
    readonly maxRequestBytes: number;
    readonly perItemMaxWireBytes: number;
    readonly maxResponseBytes: number;
    /** Request bodies this long or longer are gzipped. */
    readonly gzipMinBytes: number;
  };
  /** `holdfast relay`: the relay server's side. */
  readonly relayServer: {
    readonly listen: ListenAddress;
    readonly token: string | null;
    /** yes: may listen beyond loopback without a token. */
    readonly open: 'no' | 'yes';
    /** Per client address, in items (questions); 0: no limit. */
    readonly perClientQps: number;
    readonly perClientBurst: number;
    readonly basePath: string | null;
    readonly maxItems: number;
    readonly maxRequestBytes: number;
  };
  /** Local names (src/pipeline/local, docs/local-names.md). */
  /** Zones whose names go to their own upstreams (src/pipeline/forward). */
  readonly forward: {
    /** `DOMAIN=URL[,URL...]` as given; parsed when the pipeline is built. */
    readonly zones: readonly string[];
  };
  readonly rewrite: {
    /** `FROM=TO` as given; parsed when the pipeline is built. */
    readonly rules: readonly string[];
  };
  /** DNS rebinding protection on the main upstreams' answers (src/pipeline/forward/rebind.ts). */
  readonly rebind: {
    readonly protection: 'on' | 'off';
    /** Domains whose names may resolve to LAN addresses. */
    readonly allow: readonly string[];
  };
  readonly local: {
    /** Hosts files, watched. */
    readonly hosts: readonly string[];
    /** `NAME [TTL] TYPE DATA` lines; each must parse, or the server does not start. */
    readonly records: readonly string[];
    /** Files of such lines, watched. */
    readonly recordFiles: readonly string[];
    /** "lan", or "none" for no local domain. */
    readonly domain: string;
    readonly ttlSeconds: number;
    /** dnsmasq lease files, watched. */
    readonly dhcpLeases: readonly string[];
  };
  readonly log: {
    readonly level: 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
    readonly format: 'pretty' | 'json';
  };
}

/** Every setting at its default (the settings table's). */
export const DEFAULT_CONFIG: ServerConfig = defaults<ServerConfig>();

/**
 * Throws a HoldfastError naming the first key whose value cannot work: each setting's range
 * (from the table), then the rules that tie two settings together.
 */
export function validateConfig(c: ServerConfig): ServerConfig {
  checkSettings(c);
  const before = (a: string, b: string) => configError(a, `is larger than ${b}`);
  if (c.cache.minTtlSeconds > c.cache.maxTtlSeconds) throw before('cache.minTtlSeconds', 'cache.maxTtlSeconds');
  if (c.cache.staleWhileRevalidateSeconds > c.cache.staleIfErrorSeconds) throw before('cache.staleWhileRevalidateSeconds', 'cache.staleIfErrorSeconds');
  // The store keeps nothing longer than --stale-if-error: a longer window could never be kept.
  const tooLong = c.cache.maxStale.find((r) => Number(r.slice(r.lastIndexOf('=') + 1)) > c.cache.staleIfErrorSeconds);
  if (tooLong) throw configError('cache.maxStale', `"${tooLong}" is longer than cache.staleIfErrorSeconds (${c.cache.staleIfErrorSeconds}), which bounds every stale answer`);
  const u = c.upstream;
  if (u.rtoMinMs > u.rtoMaxMs) throw before('upstream.rtoMinMs', 'upstream.rtoMaxMs');
  if (u.rtoInitialMs < u.rtoMinMs || u.rtoInitialMs > u.rtoMaxMs) {
    throw configError('upstream.rtoInitialMs', `must be a whole number from ${u.rtoMinMs} to ${u.rtoMaxMs} (got ${u.rtoInitialMs})`);
  }
  if (u.breakerMaxCooldownMs < u.breakerCooldownMs) {
    throw configError('upstream.breakerMaxCooldownMs', `must be a whole number from ${u.breakerCooldownMs} to 600000 (got ${u.breakerMaxCooldownMs})`);
  }
  if (c.access.allow.length === 0) throw configError('access.allow', 'is empty, so no client could ever be answered');
  // The offline start is the point of keeping URL lists: without a folder a router that boots
  // with the WAN down would block nothing until the first download.
  if (c.block.listsDir === null && c.block.lists.some((l) => l.startsWith('https://'))) {
    throw configError('block.lists', 'has an https:// list, which needs block.listsDir (--lists-dir DIR) to keep its last copy');
  }
  const ru = c.relayUpstream;
  // Room for one item of the largest size at least, base64 and JSON included.
  const least = Math.ceil((ru.perItemMaxWireBytes * 4) / 3) + 256;
  if (ru.maxRequestBytes < least) throw configError('relayUpstream.maxRequestBytes', `must be a whole number from ${least} to ${64 * 1024 ** 2} (got ${ru.maxRequestBytes})`);
  return c;
}
