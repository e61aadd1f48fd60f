// THE table of settings: one row each, with its path in the config file, its flag (and so its
// HOLDFAST_* variable), its kind, default and range, whether SIGHUP puts it in force, and one
// line of documentation. The flags and their help, the environment, the config-file reader,
// `config check`, the reloadable set and docs/configuration.md's table are all derived from it
// (src/config/derive.ts); a new setting is one row here plus the code that uses it.

import { DEFAULT_PROXY_PORT } from '../core/net/proxy-url.ts';
import { choice, decimal, domainOrNone, int, lines, listenList, list, optionalListen, optionalText, path, prefixes, proxy, size, token, type Kind } from './kinds.ts';

export type Command = 'serve' | 'relay';

export interface Setting<T = unknown> {
  /** Where it lives in the config file and in ServerConfig: `cache.maxBytes`. */
  readonly path: string;
  /** Its flag, without dashes; none: set in the file only. The variable is derived from it. */
  readonly flag?: string;
  readonly kind: Kind<T>;
  readonly default: T;
  /** Does SIGHUP put a new value in force, without a restart? */
  readonly reload: boolean;
  /** One line for --help and the docs. */
  readonly doc: string;
  /** The default in words, where its value alone would mislead ("the nameservers of /etc/resolv.conf"). */
  readonly defaultText?: string;
  /** The commands whose flags include it (default: serve). */
  readonly commands?: readonly Command[];
}

/**
 * The port served when no --listen is given. Not 53 (taken by the system's own resolver, and
 * privileged) and not any port a router or Pi commonly has in use: 5353 is mDNS (avahi, umdns),
 * 5355 LLMNR (systemd-resolved), 5053/5054 https-dns-proxy, 5453 stubby, 5335 unbound in
 * Pi-hole's guide, 6053 SmartDNS, 5380 Technitium's console. README.md says the same.
 */
export const DEFAULT_DNS_PORT = 5333;

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const DAY = 86_400;

/** Keeps each row's value type tied to its kind while the table holds them all. */
function s<T>(row: Setting<T>): Setting {
  return row as unknown as Setting;
}

/** The word in a prefix list (--allow, --deny, --rate-limit-exempt) that stands for the private ranges. */
export const PRIVATE_KEYWORD = 'private';
/**
 * The word in --allow that stands for the subnets of this machine's interfaces, read live
 * (src/services/local-subnets.ts). Only the allow list takes it: a deny or exempt list that
 * moves with the interfaces would be a surprise.
 */
export const LOCAL_KEYWORD = 'local';
/** The word in --rate-limit-exempt that stands for an empty list. */
export const NONE_KEYWORD = 'none';

/** A list is a file path or an https:// URL: lists are never fetched in clear text. */
function blockListProblem(v: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v) && !/^https:\/\/[^/?#]+/i.test(v)) return `"${v}" is a URL but not https://HOST/...: lists are fetched over HTTPS only`;
  return v.includes('\0') ? 'must be a file path or URL' : null;
}

function domainProblem(v: string): string | null {
  return /^([a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}\.?$/i.test(v) && v.length <= 254 ? null : `"${v}" is not a domain name`;
}

/** `--max-stale DOMAIN=SECONDS`: the shape, and a domain. */
function maxStaleProblem(v: string): string | null {
  const m = /^([^=\s]+)=(\d{1,9})$/.exec(v);
  return m ? domainProblem(m[1]) : `"${v}" is not DOMAIN=SECONDS (such as example.com=3600)`;
}

export const SETTINGS: readonly Setting[] = [
  // Where Holdfast listens and whom it asks.
  s({
    path: 'listen',
    flag: 'listen',
    kind: listenList,
    default: [
      { address: '127.0.0.1', port: DEFAULT_DNS_PORT },
      { address: '::1', port: DEFAULT_DNS_PORT },
    ],
    reload: false,
    doc: 'Address to serve DNS on, UDP and TCP; repeatable',
  }),
  s({
    path: 'upstreams',
    flag: 'upstream',
    kind: list('URL'),
    default: [],
    defaultText: "the nameservers in resolv.conf (OpenWrt's resolv.conf.auto first), none on this machine",
    reload: true,
    commands: ['serve', 'relay'],
    doc: 'Upstream: udp://IP[:PORT], tcp://IP[:PORT], tls://HOST[:853][?pin=sha256/B64][#TLS-NAME], https://HOST[:443]/PATH[#TLS-NAME] or relay+https://HOST[/BASE][?token=T]; repeatable',
  }),

  // The cache.
  s({ path: 'cache.maxEntries', flag: 'cache-size', kind: int(1, 50_000_000), default: 1_000_000, reload: false, commands: ['serve', 'relay'], doc: 'Most entries the cache holds' }),
  s({
    path: 'cache.maxBytes',
    flag: 'cache-memory',
    // Below 64 KiB the cache would hold a few dozen answers; 1 TiB catches a slipped suffix.
    kind: size(64 * KiB, 1024 * GiB),
    // 8 MiB, for a 128 MB router, which keeps roughly half its memory for the kernel and its
    // other services: some 12,000 answers, more than a household asks for in a day (README).
    default: 8 * MiB,
    reload: false,
    doc: "Most memory the cache's entries may take: bytes, or with K, M or G",
  }),
  s({ path: 'cache.minTtlSeconds', kind: int(0, DAY), default: 0, reload: false, doc: 'Least TTL an answer is cached for' }),
  s({ path: 'cache.maxTtlSeconds', kind: int(1, 7 * DAY), default: DAY, reload: false, doc: 'Most TTL an answer is cached for' }),
  // RFC 2308 §5 suggests one to three hours as a ceiling for negative answers.
  s({ path: 'cache.negativeMaxTtlSeconds', kind: int(0, DAY), default: 3_600, reload: false, doc: 'Most TTL a negative answer (NXDOMAIN, no data) is cached for' }),
  s({ path: 'cache.servfailTtlSeconds', kind: int(0, 300), default: 5, reload: false, doc: 'How long a failure (SERVFAIL) is remembered' }),
  s({ path: 'cache.staleWhileRevalidateSeconds', kind: int(0, DAY), default: 10, reload: false, doc: 'Seconds past expiry an entry is answered at once while it is refreshed' }),
  s({
    path: 'cache.staleIfErrorSeconds',
    flag: 'stale-if-error',
    kind: int(0, 30 * DAY),
    default: 3 * DAY,
    reload: false,
    doc: 'Seconds past expiry an answer is still given, with TTL 30, when upstreams fail or are slow (RFC 8767); 0 turns it off',
  }),
  s({
    path: 'cache.noStale',
    flag: 'no-stale',
    kind: list('DOMAIN', domainProblem),
    default: [],
    reload: true,
    doc: 'Never answer this name or any name under it from expired data (dynamic DNS, load-balancer names): SERVFAIL when upstreams fail; repeatable',
  }),
  s({
    path: 'cache.maxStale',
    flag: 'max-stale',
    kind: list('DOMAIN=SECONDS', maxStaleProblem),
    default: [],
    reload: true,
    doc: 'Answer names at or under DOMAIN from expired data for at most SECONDS past expiry (up to --stale-if-error); the longest domain wins; repeatable',
  }),
  // RFC 8767 §4 suggests 30.
  s({ path: 'cache.staleAnswerTtlSeconds', kind: int(1, 3_600), default: 30, reload: false, doc: 'The TTL a stale answer carries' }),
  s({ path: 'cache.staleRecheckSeconds', kind: int(0, 3_600), default: 30, reload: false, doc: 'After a failed refresh, how long stale answers are given without asking again' }),
  // RFC 8767 §5's client response timer.
  s({ path: 'cache.staleClientWaitMs', kind: int(0, 60_000), default: 1_800, reload: false, doc: 'How long a client with a stale entry waits for upstreams before getting it' }),
  s({ path: 'cache.file', flag: 'cache-file', kind: path, default: null, defaultText: 'none: memory only', reload: false, doc: 'File the cache is saved to and restored from across restarts' }),
  // 1 s is allowed so tests can watch many writes; on a router, minutes spare the flash.
  s({ path: 'cache.snapshotIntervalSeconds', flag: 'snapshot-interval', kind: int(1, 7 * DAY), default: 900, reload: false, doc: 'Seconds between cache-file writes; each wears flash a little' }),
  s({
    path: 'cache.snapshotMinChanges',
    flag: 'snapshot-min-changes',
    kind: int(1, 100_000_000),
    default: 50,
    reload: false,
    doc: 'A periodic write is skipped until this many answers were cached since the last',
  }),

  // Asking upstreams.
  s({ path: 'upstream.totalTimeoutMs', flag: 'timeout', kind: int(10, 120_000, 'MS'), default: 4_000, reload: true, doc: 'Milliseconds a query may wait for upstreams in all' }),
  // At 30% loss each way a copy is lost half the time: 12 copies leave 1 query in 3000 unanswered.
  s({ path: 'upstream.maxAttempts', kind: int(1, 20), default: 12, reload: true, doc: 'Copies of one query sent in all, the first included' }),
  // Unbound starts its unknown servers near 376 ms.
  s({ path: 'upstream.rtoInitialMs', kind: int(1, 60_000), default: 400, reload: true, doc: "Retransmit timeout before an upstream's RTT is measured" }),
  s({ path: 'upstream.rtoMinMs', kind: int(1, 60_000), default: 50, reload: true, doc: 'Least retransmit timeout' }),
  s({ path: 'upstream.rtoMaxMs', kind: int(1, 60_000), default: 2_000, reload: true, doc: 'Most retransmit timeout' }),
  // At 30% loss each way half of all copies go unanswered, so a query needs about one retry on
  // average: 1.5 covers that with room for bursts, while capping upstream traffic at 2.5 times
  // the queries however bad the link.
  s({ path: 'upstream.retryRatio', kind: decimal(0, 10), default: 1.5, reload: true, doc: 'Retries allowed per query, over a 10 s window' }),
  s({ path: 'upstream.retryMinPerSecond', kind: int(0, 10_000), default: 5, reload: true, doc: 'Retries always allowed per second, so a quiet network can still retry' }),
  s({ path: 'upstream.breakerFailures', kind: int(1, 1_000), default: 5, reload: true, doc: "Silent copies in a row that open an upstream's circuit breaker" }),
  s({ path: 'upstream.breakerSilenceMs', kind: int(0, 600_000), default: 3_000, reload: true, doc: '...counted only once nothing has been heard from it for this long' }),
  s({ path: 'upstream.breakerCooldownMs', kind: int(10, 600_000), default: 1_000, reload: true, doc: 'First wait before an open breaker lets a probe through; it doubles' }),
  // A recovered upstream is back in use within this (jittered) time, never "dead until restart".
  s({ path: 'upstream.breakerMaxCooldownMs', kind: int(10, 600_000), default: 3_000, reload: true, doc: 'Longest wait between probes of an open breaker' }),
  s({ path: 'upstream.maxInFlightPerUpstream', kind: int(1, 100_000), default: 256, reload: true, doc: 'Copies in flight to one upstream; beyond it that upstream is passed over' }),
  s({ path: 'upstream.maxInFlight', kind: int(1, 100_000), default: 1_024, reload: true, doc: 'Queries in flight to upstreams in all; beyond it queries fail fast' }),

  // Keeping popular names fresh.
  s({
    path: 'prefetch.queriesPerMinute',
    flag: 'prefetch',
    kind: int(0, 100_000),
    // Two a second: nothing next to a household's own traffic, enough to keep hundreds of
    // popular names fresh, since each needs a refresh only once per TTL.
    default: 120,
    reload: false,
    doc: 'Refreshes of popular names per minute, before they expire; 0 turns prefetch off',
  }),
  s({
    path: 'prefetch.bytesPerHour',
    flag: 'prefetch-bytes-per-hour',
    kind: size(0, 1024 * GiB),
    default: 0,
    defaultText: '0: no limit',
    reload: false,
    doc: 'Most bytes per hour prefetch may use, for metered links; 0 for no limit',
  }),
  // A name asked about every five minutes or more often stays above 3 with a 10-minute half-life.
  s({ path: 'prefetch.minPopularity', kind: decimal(1, 1e6), default: 3, reload: false, doc: 'Decayed hits from which an entry is kept fresh' }),
  s({ path: 'prefetch.popularityHalfLifeSeconds', kind: int(1, 30 * DAY), default: 600, reload: false, doc: 'Half-life of the hit count' }),
  // Unbound prefetches in the last 10% of a TTL, too.
  s({ path: 'prefetch.leadFraction', kind: decimal(0, 1, true), default: 0.1, reload: false, doc: "A popular entry is refreshed when this share of its TTL is left" }),

  // Client TCP connections. RFC 7766 §6.2.3 suggests seconds, not minutes, for an idle one.
  s({ path: 'tcp.idleTimeoutMs', flag: 'tcp-idle-timeout', kind: int(100, 3_600_000, 'MS'), default: 10_000, reload: false, doc: 'Milliseconds an idle client TCP connection is kept open' }),
  s({ path: 'tcp.maxConnections', flag: 'tcp-max-connections', kind: int(1, 100_000), default: 256, reload: false, doc: 'Most client TCP connections open at once' }),
  s({ path: 'tcp.maxInFlightPerConnection', kind: int(1, 10_000), default: 64, reload: false, doc: 'Queries of one TCP connection answered at once' }),
  // A few MiB: every client's connection may hold one largest answer unsent (64 KiB each) and
  // a burst beyond it; far less than the cache, and bounded whatever clients do.
  s({
    path: 'tcp.maxUnsentBytes',
    flag: 'tcp-max-unsent',
    kind: size(64 * KiB, 1 * GiB),
    default: 4 * MiB,
    reload: false,
    doc: 'Answers written to client TCP connections but not yet read, all together; over it the connections holding most are closed',
  }),

  // Who is answered (src/gate/README.md).
  s({
    path: 'access.allow',
    flag: 'allow',
    kind: prefixes([PRIVATE_KEYWORD, LOCAL_KEYWORD]),
    // Like dnsmasq's local-service: a resolver on a router must never answer the Internet, but
    // must answer its LAN, whose IPv6 clients mostly use global addresses.
    default: [PRIVATE_KEYWORD, LOCAL_KEYWORD],
    reload: true,
    doc: 'Answer clients in this prefix (ADDR/BITS or ADDR), "private" (loopback, RFC 1918, link-local, fc00::/7) or "local" (the subnets of this machine\'s interfaces); repeatable; replaces the default',
  }),
  s({ path: 'access.deny', flag: 'deny', kind: prefixes([PRIVATE_KEYWORD]), default: [], reload: true, doc: 'Never answer clients in this prefix, even inside --allow; repeatable' }),
  s({
    path: 'access.refuseAction',
    flag: 'refuse-action',
    kind: choice(['refuse', 'drop'], 'ACTION'),
    default: 'refuse',
    reload: true,
    doc: 'What a client not allowed gets: refuse (REFUSED) or drop (no reply)',
  }),
  // REFUSED over UDP can be sent to a forged source (reflection); a LAN device that is refused
  // asks a few times a second at most, and one REFUSED is all a person needs to see.
  s({
    path: 'access.refusedPerSecond',
    flag: 'refuse-rate',
    kind: int(0, 1_000_000, 'QPS'),
    default: 20,
    reload: true,
    doc: 'REFUSED replies per second over UDP to clients not allowed, all together; beyond it they get no reply; 0 for no limit',
  }),
  // A renumbered prefix is picked up within a minute; a reading costs well under a millisecond.
  s({
    path: 'access.localRefreshSeconds',
    flag: 'local-refresh',
    kind: int(1, DAY),
    default: 60,
    reload: true,
    doc: "Seconds between readings of this machine's interfaces for --allow local",
  }),

  // Abuse limits per client prefix and in total (src/gate/README.md).
  s({
    path: 'rateLimit.perClientQps',
    flag: 'rate-limit',
    kind: int(0, 1_000_000, 'QPS'),
    // Far above what a household sends (IPv6 clients of one LAN share a /64, so one bucket):
    // the limit is for a runaway or hostile client, not for a busy evening.
    default: 500,
    reload: true,
    doc: 'Queries per second per client (IPv4 address, IPv6 /64), per transport; 0 turns it off',
  }),
  s({ path: 'rateLimit.perClientBurst', flag: 'rate-limit-burst', kind: int(1, 10_000_000), default: 2_000, reload: true, doc: 'Queries a client may send at once before --rate-limit applies' }),
  s({ path: 'rateLimit.ipv4PrefixBits', flag: 'rate-limit-ipv4-prefix', kind: int(8, 32, 'BITS'), default: 32, reload: true, doc: 'Bits of an IPv4 address that make one client' }),
  s({ path: 'rateLimit.ipv6PrefixBits', flag: 'rate-limit-ipv6-prefix', kind: int(16, 128, 'BITS'), default: 64, reload: true, doc: 'Bits of an IPv6 address that make one client' }),
  // Off: any figure low enough to matter on one machine would be wrong on another.
  s({ path: 'rateLimit.globalQps', flag: 'rate-limit-global', kind: int(0, 10_000_000, 'QPS'), default: 0, reload: true, doc: 'Queries per second from all limited clients together; 0 turns it off' }),
  s({ path: 'rateLimit.globalBurst', flag: 'rate-limit-global-burst', kind: int(1, 100_000_000), default: 20_000, reload: true, doc: 'Queries at once before --rate-limit-global applies' }),
  s({
    path: 'rateLimit.action',
    flag: 'rate-limit-action',
    kind: choice(['truncate', 'refuse', 'drop'], 'ACTION'),
    default: 'truncate',
    reload: true,
    doc: 'What a client over a limit gets: truncate (TC=1 over UDP, REFUSED over TCP), refuse or drop',
  }),
  s({
    path: 'rateLimit.exempt',
    flag: 'rate-limit-exempt',
    kind: prefixes([PRIVATE_KEYWORD, NONE_KEYWORD]),
    // On OpenWrt dnsmasq often forwards the whole LAN from 127.0.0.1.
    default: ['127.0.0.0/8', '::1/128'],
    reload: true,
    doc: 'Clients in this prefix are never limited; repeatable; replaces the default; "none" exempts nobody',
  }),
  s({ path: 'rateLimit.maxTrackedClients', kind: int(16, 10_000_000), default: 8_192, reload: true, doc: 'Most client prefixes whose rate state is kept' }),
  s({
    path: 'rateLimit.tcpConnectionsPerClient',
    flag: 'tcp-max-connections-per-client',
    kind: int(0, 100_000),
    default: 64,
    reload: true,
    doc: 'Most TCP connections one client may hold open; 0 for no cap',
  }),

  // Block lists (src/pipeline/block, docs/filtering.md).
  s({
    path: 'block.lists',
    flag: 'block-list',
    kind: list('PATH|URL', blockListProblem),
    default: [],
    defaultText: 'none',
    reload: true,
    doc: 'Block list: a file, or an https:// URL fetched and kept under --lists-dir; hosts, plain-domain and ||name^ lines; repeatable',
  }),
  s({ path: 'block.allowNames', flag: 'allow-name', kind: list('DOMAIN', domainProblem), default: [], reload: true, doc: 'Never block this name or any name under it; repeatable' }),
  s({
    path: 'block.action',
    flag: 'block-action',
    kind: choice(['null', 'nxdomain', 'refused']),
    default: 'null',
    reload: true,
    doc: 'A blocked name gets: null (A 0.0.0.0, AAAA ::, other types no data), nxdomain or refused',
  }),
  // A day: list maintainers publish a few times a day at most, and ask for no more (OISD,
  // StevenBlack); 10 s is allowed for tests, which change lists as they go.
  s({ path: 'block.refreshSeconds', flag: 'block-list-refresh', kind: int(10, 30 * DAY, 'SECONDS'), default: DAY, reload: true, doc: 'Seconds between downloads of each URL list (conditional: unchanged lists cost a 304)' }),
  s({
    path: 'block.listsDir',
    flag: 'lists-dir',
    kind: path,
    default: null,
    defaultText: 'none (URL lists then refused)',
    reload: true,
    doc: 'Existing folder where URL lists are kept, so a start without the WAN blocks from the last copy at once',
  }),
  s({
    path: 'block.maxListBytes',
    flag: 'block-list-max-size',
    // 64 MiB holds the largest lists in common use several times over (a million-name hosts
    // file is about 35 MiB) and still bounds what a broken or hostile server can make a
    // 128 MB router hold while it downloads.
    kind: size(64 * KiB, GiB),
    default: 64 * MiB,
    reload: true,
    doc: 'Most bytes one downloaded list may have; a larger one is refused and the last copy kept',
  }),

  // Metrics, health and the status page.
  s({
    path: 'http.listen',
    flag: 'http',
    kind: optionalListen,
    default: null,
    defaultText: 'off',
    reload: false,
    doc: 'Serve /metrics, /healthz, /readyz and the status page on ADDR:PORT; PORT alone listens on loopback',
  }),
  s({ path: 'http.token', flag: 'http-token', kind: token, default: null, defaultText: 'none', reload: false, doc: 'Bearer token every HTTP path but /healthz requires' }),
  s({
    path: 'http.allowedHosts',
    flag: 'http-host',
    kind: list('NAME', (v) => (/^[A-Za-z0-9.:_\[\]-]+$/.test(v) ? null : 'must be a host name or address, without a port')),
    default: [],
    defaultText: 'none: only our own addresses',
    reload: false,
    commands: ['serve', 'relay'],
    doc: 'A name the HTTP port (and the relay) also answers to in the Host header; repeatable. Any other Host but our own addresses gets 421, so a web page cannot read it by DNS rebinding',
  }),
  s({ path: 'http.maxConnections', flag: 'http-max-connections', kind: int(1, 100_000), default: 64, reload: false, commands: ['serve', 'relay'], doc: 'Most HTTP connections open at once (the relay too); more are closed at once' }),
  s({
    path: 'http.headersTimeoutSeconds',
    flag: 'http-headers-timeout',
    kind: int(1, 300, 'SECONDS'),
    default: 5,
    reload: false,
    commands: ['serve', 'relay'],
    doc: 'An HTTP connection must send a whole request head within this long of opening (or of its last answer)',
  }),

  // The query log.
  s({ path: 'queryLog.maxEntries', flag: 'query-log', kind: int(0, 1_000_000), default: 0, defaultText: '0: off', reload: false, doc: 'Keep the last N queries in memory for the status page and /api/queries' }),
  s({
    path: 'queryLog.file',
    flag: 'query-log-file',
    kind: path,
    default: null,
    defaultText: 'none, to spare flash',
    reload: false,
    doc: 'Also write every query to PATH, one JSON object per line, rotated by size',
  }),
  // A floor of 1 KB keeps rotation from running on every flush; tests use small files.
  s({ path: 'queryLog.maxFileBytes', flag: 'query-log-max-bytes', kind: size(KiB, GiB), default: MiB, reload: false, doc: 'Size at which the query log file is rotated' }),
  s({ path: 'queryLog.rotatedFiles', flag: 'query-log-files', kind: int(1, 100), default: 2, reload: false, doc: 'Rotated query log files kept: PATH.1 to PATH.N' }),

  // tls://, https:// and relay upstreams.
  s({
    path: 'encryptedUpstream.caFile',
    flag: 'ca-file',
    kind: path,
    default: null,
    defaultText: 'the system store',
    reload: true,
    commands: ['serve', 'relay'],
    doc: 'PEM file of CAs to trust for tls:// and https:// upstreams instead of the system store',
  }),
  s({
    path: 'encryptedUpstream.bootstrap',
    flag: 'bootstrap',
    kind: list('URL'),
    default: [],
    defaultText: 'the plain upstreams',
    reload: true,
    commands: ['serve', 'relay'],
    doc: 'Plain upstream (udp://IP or tcp://IP) that resolves upstreams given by name; repeatable',
  }),
  s({
    path: 'encryptedUpstream.proxy',
    flag: 'proxy',
    kind: proxy,
    default: null,
    defaultText: 'none; HTTPS_PROXY is not read',
    reload: true,
    commands: ['serve', 'relay'],
    doc: `HTTP proxy for tls://, https:// and relay upstreams (CONNECT): http://[USER:PASS@]HOST[:PORT], port ${DEFAULT_PROXY_PORT} if left out; "none" turns off one from the file`,
  }),
  // RFC 8467 §4.1's recommendation for queries.
  s({ path: 'encryptedUpstream.paddingBlockBytes', kind: int(0, 512), default: 128, reload: true, doc: 'Queries padded to a multiple of this many bytes; 0 turns padding off' }),
  // RFC 7858 §3.4 asks clients to reuse connections and leave idle ones alone briefly.
  s({ path: 'encryptedUpstream.idleTimeoutMs', kind: int(100, 3_600_000), default: 30_000, reload: true, doc: 'An upstream connection with nothing in flight is closed after this long' }),
  s({ path: 'encryptedUpstream.connectTimeoutMs', kind: int(100, 120_000), default: 5_000, reload: true, doc: 'TCP and TLS handshakes together may take this long' }),
  s({
    path: 'encryptedUpstream.silentConnectionMs',
    kind: int(100, 120_000),
    default: 2_000,
    reload: true,
    doc: 'DoT: a connection silent this long under a query is replaced; DoH and relays: it stops counting against httpConnections',
  }),
  s({ path: 'encryptedUpstream.httpConnections', kind: int(1, 64), default: 4, reload: true, doc: 'DoH and relays: HTTP/1.1 connections per upstream' }),
  s({
    path: 'encryptedUpstream.ntpNames',
    flag: 'ntp-name',
    kind: list('NAME', (v) => (/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?)+$/i.test(v) ? null : 'must be a host name (like pool.ntp.org)')),
    default: [],
    reload: true,
    commands: ['serve'],
    doc: 'NTP server name that may be resolved through the --bootstrap upstreams while no upstream answers (a clock wrong at boot); repeatable',
  }),
  s({
    path: 'encryptedUpstream.networkCheckSeconds',
    flag: 'network-check-seconds',
    kind: int(0, 3_600, 'SECONDS'),
    default: 5,
    reload: false,
    commands: ['serve', 'relay'],
    doc: 'With TLS, HTTPS or relay upstreams: read the interface addresses this often, and redial every upstream when they change; 0: only on SIGUSR2 or POST /api/network-changed',
  }),

  // relay+https:// and relay+http:// upstreams (docs/relay.md).
  s({ path: 'relayUpstream.token', flag: 'relay-token', kind: token, default: null, defaultText: 'none (a ?token= in the URL wins)', reload: true, doc: 'Bearer token for relay upstreams whose URL has no ?token=' }),
  // A few milliseconds gathers the burst of misses a page load makes, and adds little to one.
  s({ path: 'relayUpstream.batchWindowMs', flag: 'relay-batch-ms', kind: int(0, 1000, 'MS'), default: 3, reload: true, doc: 'How long a relay question waits for others to share its request' }),
  s({
    path: 'relayUpstream.infoCheck',
    flag: 'relay-info-check',
    kind: choice(['require', 'warn', 'off'], 'MODE'),
    default: 'require',
    reload: true,
    doc: "At start, a relay whose /v1/info does not fit: 'require' refuses to start, 'warn' logs, 'off' skips the check",
  }),
  // Relay protocol v1's defaults.
  s({ path: 'relayUpstream.maxItems', kind: int(1, 10_000), default: 32, reload: true, doc: 'Questions per relay request at most' }),
  s({ path: 'relayUpstream.maxRequestBytes', kind: int(1, 64 * MiB), default: 65_536, reload: true, doc: 'Relay request body bytes at most' }),
  // Room for one item of the largest size at least, base64 and JSON included.
  s({ path: 'relayUpstream.perItemMaxWireBytes', kind: int(512, 65_535), default: 4_096, reload: true, doc: 'One question or answer, in wire bytes, at most' }),
  s({ path: 'relayUpstream.maxResponseBytes', kind: int(4_096, 64 * MiB), default: 262_144, reload: true, doc: 'Relay response body bytes at most, after gunzip' }),
  s({ path: 'relayUpstream.gzipMinBytes', kind: int(0, 64 * MiB), default: 512, reload: true, doc: 'Request bodies this long or longer are gzipped' }),

  // `holdfast relay`: the relay server's own side (docs/relay.md).
  s({ path: 'relayServer.listen', flag: 'listen', kind: optionalListen, default: { address: '127.0.0.1', port: 8053 }, reload: false, commands: ['relay'], doc: 'Address to serve the relay on, HTTP/1.1' }),
  s({ path: 'relayServer.token', flag: 'relay-token', kind: token, default: null, defaultText: 'none', reload: false, commands: ['relay'], doc: 'Bearer token clients must send' }),
  s({
    path: 'relayServer.open',
    flag: 'relay-open',
    kind: choice(['no', 'yes'], 'yes|no'),
    default: 'no',
    reload: false,
    commands: ['relay'],
    doc: 'yes: listen beyond loopback without --relay-token, answering anyone who can reach it (rate-limited per client)',
  }),
  s({ path: 'relayServer.perClientQps', flag: 'relay-rate-limit', kind: int(0, 10_000_000, 'QPS'), default: 200, reload: false, commands: ['relay'], doc: 'Items per second one client address may send (0: no limit)' }),
  s({ path: 'relayServer.perClientBurst', flag: 'relay-rate-limit-burst', kind: int(1, 10_000_000), default: 1_000, reload: false, commands: ['relay'], doc: 'Items a client may send at once before --relay-rate-limit applies' }),
  s({
    path: 'relayServer.basePath',
    flag: 'base-path',
    kind: optionalText({ hint: 'PATH', check: (v) => (v.startsWith('/') && !/[?#\s]/.test(v) ? null : 'must be a path starting with /') }),
    default: null,
    defaultText: 'none: /v1/dns and /v1/info',
    reload: false,
    commands: ['relay'],
    doc: 'Path before /v1/',
  }),
  s({ path: 'relayServer.maxItems', flag: 'max-items', kind: int(1, 10_000), default: 32, reload: false, commands: ['relay'], doc: 'Items per request' }),
  s({ path: 'relayServer.maxRequestBytes', flag: 'max-request-bytes', kind: int(256, 64 * MiB), default: 65_536, reload: false, commands: ['relay'], doc: 'Request body bytes after gunzip' }),

  // Local names: hosts files, DHCP leases and records answered here (docs/local-names.md).
  s({
    path: 'local.hosts',
    flag: 'hosts',
    kind: list('PATH'),
    default: [],
    defaultText: 'none; /etc/hosts only when given',
    reload: true,
    doc: 'Hosts file (IP NAME [ALIAS...]) whose names are answered here, watched for changes; repeatable',
  }),
  s({
    path: 'local.records',
    flag: 'record',
    kind: lines('"NAME TYPE DATA"', (v) => (v.trim().split(/\s+/).length >= 3 ? null : `"${v}" is not "NAME TYPE DATA" (such as "nas.lan A 192.168.1.2")`)),
    default: [],
    reload: true,
    doc: 'A record answered here: NAME [TTL] TYPE DATA in zone-file syntax, TYPE one of A, AAAA, CNAME, TXT, MX, SRV, PTR; repeatable',
  }),
  s({ path: 'local.recordFiles', flag: 'records', kind: list('PATH'), default: [], reload: true, doc: 'File of records, one NAME [TTL] TYPE DATA a line, watched for changes; repeatable' }),
  s({
    path: 'local.domain',
    flag: 'local-domain',
    kind: domainOrNone('DOMAIN'),
    // OpenWrt's own default, so the LAN's names keep working when Holdfast replaces dnsmasq.
    default: 'lan',
    reload: true,
    doc: 'Names under it are answered from local data only (NXDOMAIN when unknown, never forwarded), and DHCP host names get it appended; "none" turns it off',
  }),
  // A minute: a device that gets a new address is found again within one, while a LAN name
  // asked often (a NAS, a printer) is not asked again on every use, as with dnsmasq's 0.
  s({ path: 'local.ttlSeconds', flag: 'local-ttl', kind: int(0, DAY), default: 60, reload: true, doc: 'TTL of local answers, and of their NXDOMAIN and no-data answers' }),
  s({
    path: 'local.dhcpLeases',
    flag: 'dhcp-leases',
    kind: list('PATH'),
    default: [],
    reload: true,
    doc: "dnsmasq lease file (OpenWrt: /tmp/dhcp.leases) whose host names are answered as NAME.<local-domain>, watched for changes; repeatable",
  }),

  // Forward zones, rewrites and rebind protection (src/pipeline/forward, src/pipeline/rewrite;
  // docs/local-names.md, docs/filtering.md). Each value's upstreams and names are parsed where
  // the pipeline is built (src/pipeline/forward/zones.ts), which names a bad one and stops.
  s({
    path: 'forward.zones',
    flag: 'forward-zone',
    kind: lines('DOMAIN=URL[,URL...]', (v) => (/^[^=\s]+=\S+$/.test(v) ? null : `"${v}" is not DOMAIN=URL[,URL...] (such as corp.example=udp://10.8.0.1)`)),
    default: [],
    reload: true,
    doc: 'Names at or under DOMAIN go only to these upstreams (any upstream scheme; the longest zone wins; reverse zones too, which are then not answered locally); repeatable',
  }),
  s({
    path: 'rewrite.rules',
    flag: 'rewrite',
    kind: lines('FROM=TO', (v) => (/^[^=\s]+=[^=\s]+$/.test(v) ? null : `"${v}" is not FROM=TO (such as nas.example.com=192.168.1.10)`)),
    default: [],
    reload: true,
    doc: 'Answer FROM (a name, or *.domain for the names under it) with TO: an address (A or AAAA), or a name (CNAME FROM to TO, then its answer); repeatable',
  }),
  s({
    path: 'rebind.protection',
    flag: 'rebind-protection',
    kind: choice(['on', 'off']),
    // On, as OpenWrt's dnsmasq (rebind_protection '1'): a router is what DNS rebinding attacks.
    default: 'on',
    reload: true,
    doc: 'Take private, loopback, link-local, ULA and unspecified addresses out of the main upstreams\' answers (not forward zones\')',
  }),
  s({ path: 'rebind.allow', flag: 'rebind-allow', kind: list('DOMAIN', domainProblem), default: [], reload: true, doc: 'Let this domain and the names under it resolve to LAN addresses despite --rebind-protection; repeatable' }),

  // Logging.
  s({ path: 'log.level', flag: 'log-level', kind: choice(['silent', 'error', 'warn', 'info', 'debug', 'trace'], 'LEVEL'), default: 'info', reload: true, commands: ['serve', 'relay'], doc: 'silent, error, warn, info, debug (logs each query) or trace' }),
  s({ path: 'log.format', flag: 'log-format', kind: choice(['pretty', 'json'], 'FORMAT'), default: 'pretty', reload: false, commands: ['serve', 'relay'], doc: 'pretty, or json (one object per line)' }),
];
