// The server's settings, their defaults, and validation that names the key at fault. Options
// are checked once here, when the server is built, never on the query path.

import { ErrorCode, HoldfastError } from './errors.ts';

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
  };
  readonly upstream: {
    readonly attemptTimeoutMs: number;
    readonly totalTimeoutMs: number;
    readonly maxAttempts: number;
  };
  readonly tcp: {
    readonly idleTimeoutMs: number;
    readonly maxConnections: number;
    readonly maxInFlightPerConnection: number;
  };
}

export const DEFAULT_CONFIG: ServerConfig = {
  listen: [
    { address: '127.0.0.1', port: 5353 },
    { address: '::1', port: 5353 },
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
  },
  upstream: {
    attemptTimeoutMs: 1_500,
    totalTimeoutMs: 4_000,
    maxAttempts: 3,
  },
  tcp: {
    // RFC 7766 §6.2.3 suggests seconds, not minutes, for an idle client connection.
    idleTimeoutMs: 10_000,
    maxConnections: 256,
    maxInFlightPerConnection: 64,
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
  int('upstream.attemptTimeoutMs', c.upstream.attemptTimeoutMs, 10, 60_000);
  int('upstream.totalTimeoutMs', c.upstream.totalTimeoutMs, 10, 120_000);
  int('upstream.maxAttempts', c.upstream.maxAttempts, 1, 10);
  int('tcp.idleTimeoutMs', c.tcp.idleTimeoutMs, 100, 3_600_000);
  int('tcp.maxConnections', c.tcp.maxConnections, 1, 100_000);
  int('tcp.maxInFlightPerConnection', c.tcp.maxInFlightPerConnection, 1, 10_000);
  return c;
}
