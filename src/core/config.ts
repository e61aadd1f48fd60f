// The server's settings, their defaults, and validation that names the key at fault. Options
// are checked once here, when the server is built, never on the query path.

import { ErrorCode, HoldfastError } from './errors.ts';
import { parseProxyUrl } from './proxy-url.ts';

export interface ListenAddress {
  readonly address: string;
  readonly port: number;
}

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
  };
  /** Which clients are answered at all (src/pipeline/access/README.md). */
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
    /** How often the interfaces are read again for "local" (a renumbered ISP prefix). */
    readonly localRefreshSeconds: number;
  };
  /** Abuse limits per client prefix and in total (src/pipeline/access/README.md). */
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
  readonly http: {
    /** Where /metrics, /healthz, /readyz and the status page are served; null: no HTTP at all. */
    readonly listen: ListenAddress | null;
    /** A bearer token every path but /healthz requires; null: none. */
    readonly token: string | null;
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
}

/**
 * The port served when no --listen is given. Not 53 (taken by the system's own resolver, and
 * privileged) and not any port a router or Pi commonly has in use: 5353 is mDNS (avahi, umdns),
 * 5355 LLMNR (systemd-resolved), 5053/5054 https-dns-proxy, 5453 stubby, 5335 unbound in
 * Pi-hole's guide, 6053 SmartDNS, 5380 Technitium's console. README.md says the same.
 */
export const DEFAULT_DNS_PORT = 5333;

export const DEFAULT_CONFIG: ServerConfig = {
  listen: [
    { address: '127.0.0.1', port: DEFAULT_DNS_PORT },
    { address: '::1', port: DEFAULT_DNS_PORT },
  ],
  upstreams: [],
  cache: {
    // Memory is the bound that matters on a router, so maxBytes is the main one. maxEntries
    // stays as a second bound, set high enough that it binds only with a large maxBytes: it is
    // the knob dnsmasq users know (--cache-size), and it caps the count of entries, whose fixed
    // cost is an estimate (store.ts), should many tiny answers arrive.
    maxEntries: 1_000_000,
    // 8 MiB, for a 128 MB router, which keeps roughly half its memory for the kernel and its
    // other services. Holdfast under Bun starts at about 43 MiB RSS and settles near 52 MiB
    // after traffic with a tiny cache; each counted byte of cache then costs about two bytes of
    // RSS once the collector has caught up, and up to four under a flood of misses (measured
    // with 400,000 new names at 14,000 a second: 8 MiB settled at 69 MiB, peaked near 100;
    // 16 MiB settled at 83, peaked near 125). 8 MiB is some 12,000 answers (about 650 bytes
    // each as store.ts counts them), more than a household or small office asks for in a day.
    maxBytes: 8 * 1024 * 1024,
    minTtlSeconds: 0,
    maxTtlSeconds: 86_400,
    // RFC 2308 §5 suggests one to three hours as a ceiling for negative answers.
    negativeMaxTtlSeconds: 3_600,
    servfailTtlSeconds: 5,
    staleWhileRevalidateSeconds: 10,
    staleIfErrorSeconds: 3 * 86_400,
    staleAnswerTtlSeconds: 30,
    staleRecheckSeconds: 30,
    staleClientWaitMs: 1_800,
    file: null,
    snapshotIntervalSeconds: 900,
    snapshotMinChanges: 50,
  },
  upstream: {
    totalTimeoutMs: 4_000,
    // At 30% loss each way a copy is lost half the time: 12 copies leave 1 query in 3000 unanswered.
    maxAttempts: 12,
    // Before any reply is measured; unbound starts its unknown servers near 376 ms.
    rtoInitialMs: 400,
    rtoMinMs: 50,
    rtoMaxMs: 2_000,
    // At 30% loss each way half of all copies go unanswered, so a query needs about one retry
    // on average: 1.5 covers that with room for bursts, while capping upstream traffic at 2.5
    // times the queries however bad the link.
    retryRatio: 1.5,
    retryMinPerSecond: 5,
    breakerFailures: 5,
    breakerSilenceMs: 3_000,
    breakerCooldownMs: 1_000,
    // A recovered upstream is back in use within this (jittered) time, never "dead until restart";
    // a probe every few seconds costs a dead upstream next to nothing.
    breakerMaxCooldownMs: 3_000,
    maxInFlightPerUpstream: 256,
    maxInFlight: 1_024,
  },
  prefetch: {
    // Two a second: nothing next to a household's own traffic, enough to keep hundreds of
    // popular names fresh, since each needs a refresh only once per TTL.
    queriesPerMinute: 120,
    bytesPerHour: 0,
    // A name asked about every five minutes or more often stays above 3 with a 10-minute half-life.
    minPopularity: 3,
    popularityHalfLifeSeconds: 600,
    // Unbound prefetches in the last 10% of a TTL, too.
    leadFraction: 0.1,
  },
  tcp: {
    // RFC 7766 §6.2.3 suggests seconds, not minutes, for an idle client connection.
    idleTimeoutMs: 10_000,
    maxConnections: 256,
    maxInFlightPerConnection: 64,
  },
  access: {
    // Like dnsmasq's local-service: a resolver on a router must never answer the Internet,
    // but must answer its LAN, whose IPv6 clients mostly use global addresses.
    allow: ['private', 'local'],
    deny: [],
    refuseAction: 'refuse',
    // A renumbered prefix is picked up within a minute; a reading costs well under a millisecond.
    localRefreshSeconds: 60,
  },
  rateLimit: {
    // Far above what a household sends (IPv6 clients of one LAN share a /64, so one bucket):
    // the limit is for a runaway or hostile client, not for a busy evening.
    perClientQps: 500,
    perClientBurst: 2_000,
    ipv4PrefixBits: 32,
    ipv6PrefixBits: 64,
    // Off: any figure low enough to matter on one machine would be wrong on another.
    globalQps: 0,
    globalBurst: 20_000,
    action: 'truncate',
    // On OpenWrt dnsmasq often forwards the whole LAN from 127.0.0.1.
    exempt: ['127.0.0.0/8', '::1/128'],
    maxTrackedClients: 8_192,
    tcpConnectionsPerClient: 64,
  },
  http: {
    listen: null,
    token: null,
  },
  queryLog: {
    maxEntries: 0,
    file: null,
    maxFileBytes: 1024 ** 2,
    rotatedFiles: 2,
  },
  encryptedUpstream: {
    caFile: null,
    bootstrap: [],
    proxy: null,
    // RFC 8467 §4.1's recommendation for queries.
    paddingBlockBytes: 128,
    // RFC 7858 §3.4 asks clients to reuse connections and leave idle ones alone briefly.
    idleTimeoutMs: 30_000,
    connectTimeoutMs: 5_000,
    silentConnectionMs: 2_000,
    httpConnections: 4,
  },
  relayUpstream: {
    token: null,
    // A few milliseconds gathers the burst of misses a page load makes, and adds little to one.
    batchWindowMs: 3,
    infoCheck: 'require',
    // Relay protocol v1's defaults.
    maxItems: 32,
    maxRequestBytes: 65536,
    perItemMaxWireBytes: 4096,
    maxResponseBytes: 262144,
    gzipMinBytes: 512,
  },
};

export function configError(key: string, problem: string): HoldfastError {
  return new HoldfastError(ErrorCode.config, `config: ${key} ${problem}`);
}

function int(key: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw configError(key, `must be a whole number from ${min} to ${max} (got ${v})`);
}

/** Throws a HoldfastError naming the first key whose value cannot work. */
export function validateConfig(c: ServerConfig): ServerConfig {
  if (c.listen.length === 0) throw configError('listen', 'needs at least one address');
  c.listen.forEach((l, i) => int(`listen[${i}].port`, l.port, 0, 65535));
  int('cache.maxEntries', c.cache.maxEntries, 1, 50_000_000);
  // Below 64 KiB the cache would hold a few dozen answers; 1 TiB catches a slipped suffix.
  int('cache.maxBytes', c.cache.maxBytes, 64 * 1024, 1024 ** 4);
  int('cache.minTtlSeconds', c.cache.minTtlSeconds, 0, 86_400);
  int('cache.maxTtlSeconds', c.cache.maxTtlSeconds, 1, 604_800);
  if (c.cache.minTtlSeconds > c.cache.maxTtlSeconds) throw configError('cache.minTtlSeconds', 'is larger than cache.maxTtlSeconds');
  int('cache.negativeMaxTtlSeconds', c.cache.negativeMaxTtlSeconds, 0, 86_400);
  int('cache.servfailTtlSeconds', c.cache.servfailTtlSeconds, 0, 300);
  int('cache.staleWhileRevalidateSeconds', c.cache.staleWhileRevalidateSeconds, 0, 86_400);
  int('cache.staleIfErrorSeconds', c.cache.staleIfErrorSeconds, 0, 30 * 86_400);
  if (c.cache.staleWhileRevalidateSeconds > c.cache.staleIfErrorSeconds) throw configError('cache.staleWhileRevalidateSeconds', 'is larger than cache.staleIfErrorSeconds');
  int('cache.staleAnswerTtlSeconds', c.cache.staleAnswerTtlSeconds, 1, 3_600);
  int('cache.staleRecheckSeconds', c.cache.staleRecheckSeconds, 0, 3_600);
  int('cache.staleClientWaitMs', c.cache.staleClientWaitMs, 0, 60_000);
  const u = c.upstream;
  int('upstream.totalTimeoutMs', u.totalTimeoutMs, 10, 120_000);
  int('upstream.maxAttempts', u.maxAttempts, 1, 20);
  int('upstream.rtoMinMs', u.rtoMinMs, 1, 60_000);
  int('upstream.rtoMaxMs', u.rtoMaxMs, 1, 60_000);
  if (u.rtoMinMs > u.rtoMaxMs) throw configError('upstream.rtoMinMs', 'is larger than upstream.rtoMaxMs');
  int('upstream.rtoInitialMs', u.rtoInitialMs, u.rtoMinMs, u.rtoMaxMs);
  if (!Number.isFinite(u.retryRatio) || u.retryRatio < 0 || u.retryRatio > 10) throw configError('upstream.retryRatio', `must be a number from 0 to 10 (got ${u.retryRatio})`);
  int('upstream.retryMinPerSecond', u.retryMinPerSecond, 0, 10_000);
  int('upstream.breakerFailures', u.breakerFailures, 1, 1_000);
  int('upstream.breakerSilenceMs', u.breakerSilenceMs, 0, 600_000);
  int('upstream.breakerCooldownMs', u.breakerCooldownMs, 10, 600_000);
  int('upstream.breakerMaxCooldownMs', u.breakerMaxCooldownMs, u.breakerCooldownMs, 600_000);
  int('upstream.maxInFlightPerUpstream', u.maxInFlightPerUpstream, 1, 100_000);
  int('upstream.maxInFlight', u.maxInFlight, 1, 100_000);
  const pf = c.prefetch;
  int('prefetch.queriesPerMinute', pf.queriesPerMinute, 0, 100_000);
  int('prefetch.bytesPerHour', pf.bytesPerHour, 0, 1e12);
  if (!Number.isFinite(pf.minPopularity) || pf.minPopularity < 1 || pf.minPopularity > 1e6) throw configError('prefetch.minPopularity', `must be a number from 1 to 1000000 (got ${pf.minPopularity})`);
  int('prefetch.popularityHalfLifeSeconds', pf.popularityHalfLifeSeconds, 1, 30 * 86_400);
  if (!Number.isFinite(pf.leadFraction) || pf.leadFraction <= 0 || pf.leadFraction >= 1) throw configError('prefetch.leadFraction', `must be a number between 0 and 1 (got ${pf.leadFraction})`);
  if (c.cache.file !== null && (typeof c.cache.file !== 'string' || c.cache.file === '' || c.cache.file.includes('\0'))) {
    throw configError('cache.file', 'must be a file path or null');
  }
  // 1 s is allowed so tests can watch many writes; on a router, minutes spare the flash.
  int('cache.snapshotIntervalSeconds', c.cache.snapshotIntervalSeconds, 1, 7 * 86_400);
  int('cache.snapshotMinChanges', c.cache.snapshotMinChanges, 1, 100_000_000);
  int('tcp.idleTimeoutMs', c.tcp.idleTimeoutMs, 100, 3_600_000);
  int('tcp.maxConnections', c.tcp.maxConnections, 1, 100_000);
  int('tcp.maxInFlightPerConnection', c.tcp.maxInFlightPerConnection, 1, 10_000);
  // Prefix syntax is checked where the lists are compiled (src/pipeline/access/admission.ts).
  strings('access.allow', c.access.allow);
  if (c.access.allow.length === 0) throw configError('access.allow', 'is empty, so no client could ever be answered');
  strings('access.deny', c.access.deny);
  oneOf('access.refuseAction', c.access.refuseAction, ['refuse', 'drop']);
  int('access.localRefreshSeconds', c.access.localRefreshSeconds, 1, 86_400);
  const r = c.rateLimit;
  int('rateLimit.perClientQps', r.perClientQps, 0, 1_000_000);
  int('rateLimit.perClientBurst', r.perClientBurst, 1, 10_000_000);
  int('rateLimit.ipv4PrefixBits', r.ipv4PrefixBits, 8, 32);
  int('rateLimit.ipv6PrefixBits', r.ipv6PrefixBits, 16, 128);
  int('rateLimit.globalQps', r.globalQps, 0, 10_000_000);
  int('rateLimit.globalBurst', r.globalBurst, 1, 100_000_000);
  oneOf('rateLimit.action', r.action, ['truncate', 'refuse', 'drop']);
  strings('rateLimit.exempt', r.exempt);
  int('rateLimit.maxTrackedClients', r.maxTrackedClients, 16, 10_000_000);
  int('rateLimit.tcpConnectionsPerClient', r.tcpConnectionsPerClient, 0, 100_000);
  if (c.http.listen) {
    if (c.http.listen.address === '') throw configError('http.listen', 'needs an address');
    int('http.listen.port', c.http.listen.port, 0, 65535);
  }
  // Visible ASCII only: it travels in an Authorization header, and a stray space or newline
  // from a copied file would make a token nobody can send.
  if (c.http.token !== null && !/^[\x21-\x7e]{1,1024}$/.test(c.http.token)) {
    throw configError('http.token', 'must be 1 to 1024 visible ASCII characters, without spaces');
  }
  int('queryLog.maxEntries', c.queryLog.maxEntries, 0, 1_000_000);
  const ql = c.queryLog;
  if (ql.file !== null && (typeof ql.file !== 'string' || ql.file === '' || ql.file.includes('\0'))) throw configError('queryLog.file', 'must be a file path or null');
  // A floor of 1 KB keeps rotation from running on every flush; tests use small files.
  int('queryLog.maxFileBytes', ql.maxFileBytes, 1024, 1024 ** 3);
  int('queryLog.rotatedFiles', ql.rotatedFiles, 1, 100);
  const e = c.encryptedUpstream;
  if (e.caFile !== null && e.caFile.trim() === '') throw configError('encryptedUpstream.caFile', 'is empty');
  if (e.proxy !== null) {
    const proxy = typeof e.proxy === 'string' ? parseProxyUrl(e.proxy) : 'must be a string or null';
    if (typeof proxy === 'string') throw configError('encryptedUpstream.proxy', proxy);
  }
  int('encryptedUpstream.paddingBlockBytes', e.paddingBlockBytes, 0, 512);
  int('encryptedUpstream.idleTimeoutMs', e.idleTimeoutMs, 100, 3_600_000);
  int('encryptedUpstream.connectTimeoutMs', e.connectTimeoutMs, 100, 120_000);
  int('encryptedUpstream.silentConnectionMs', e.silentConnectionMs, 100, 120_000);
  int('encryptedUpstream.httpConnections', e.httpConnections, 1, 64);
  const ru = c.relayUpstream;
  if (ru.token !== null && !/^[\x21-\x7e]{1,1024}$/.test(ru.token)) throw configError('relayUpstream.token', 'must be 1 to 1024 visible ASCII characters, without spaces');
  int('relayUpstream.batchWindowMs', ru.batchWindowMs, 0, 1000);
  oneOf('relayUpstream.infoCheck', ru.infoCheck, ['require', 'warn', 'off']);
  int('relayUpstream.maxItems', ru.maxItems, 1, 10_000);
  // Room for one item of the largest size at least, base64 and JSON included.
  int('relayUpstream.perItemMaxWireBytes', ru.perItemMaxWireBytes, 512, 65535);
  int('relayUpstream.maxRequestBytes', ru.maxRequestBytes, Math.ceil((ru.perItemMaxWireBytes * 4) / 3) + 256, 64 * 1024 ** 2);
  int('relayUpstream.maxResponseBytes', ru.maxResponseBytes, 4096, 64 * 1024 ** 2);
  int('relayUpstream.gzipMinBytes', ru.gzipMinBytes, 0, 64 * 1024 ** 2);
  return c;
}

function strings(key: string, v: readonly unknown[]): void {
  if (!Array.isArray(v)) throw configError(key, 'must be a list of prefixes');
  v.forEach((s, i) => {
    if (typeof s !== 'string' || s === '') throw configError(`${key}[${i}]`, 'must be a prefix such as 10.0.0.0/8');
  });
}

function oneOf(key: string, v: string, allowed: readonly string[]): void {
  if (!allowed.includes(v)) throw configError(key, `must be one of ${allowed.join(', ')} (got ${v})`);
}
