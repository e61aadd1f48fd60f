// One interface for every upstream kind, so the pool's health, breakers, retry budget and the
// cache's stale answers apply to all of them alike. A "copy" of a query is one exchange: over
// UDP and TCP on a fresh socket, over TLS and HTTPS on a shared, long-lived connection.

import type { ErrorCode } from '../core/errors.ts';
import type { ProxyUrl } from '../core/net/proxy-url.ts';
import type { RelayLimits } from '../protocols/relay-v1.ts';
import { DEFAULT_CONFIG } from '../config/config.ts';
import type { ClockGuard } from './clock-guard.ts';
import type { StopSignal } from './stop.ts';

export interface Transport {
  /**
   * Sends one copy of `query` and resolves with the reply that matches it. Rejects with a
   * HoldfastError: upstreamTimeout past `timeoutMs`, upstreamAborted when `signal` fires,
   * otherwise the reason the upstream could not answer.
   */
  exchange(query: Uint8Array, timeoutMs: number, signal?: StopSignal): Promise<Uint8Array>;
  /**
   * The same exchange without a promise, for the kinds a miss crosses most (plain UDP): the
   * reply goes to `copy.landed` as it arrives, any error (as exchange() would reject) to
   * `copy.failed` on a later microtask; one of the two, once. A promise, its `then` and two
   * closures per copy were 3% of a miss's CPU on Bun (#11). Absent: use exchange().
   */
  exchangeTo?(query: Uint8Array, timeoutMs: number, copy: CopySink): void;
  /** Closes any connections kept open; later exchanges open new ones. */
  close(): void;
  /**
   * The network changed under us (#12: a new WAN address, a PPPoE reconnect): drops every
   * connection at once, forgets any connect backoff, and sends what was in flight once more on
   * a fresh connection. Absent for kinds that keep no connection (UDP, TCP).
   */
  reset?(): void;
  /** Checks, before use, what can be checked (a relay's /v1/info); rejects to refuse the upstream. */
  preflight?(): Promise<void>;
}

/** Where exchangeTo() delivers one copy's outcome; the copy is also the signal that stops it. */
export interface CopySink extends StopSignal {
  landed(reply: Uint8Array): void;
  failed(error: Error): void;
}

/** Something worth one log line, reported once per change rather than once per query. */
export interface UpstreamEvent {
  /** The upstream's label, its URL with any token hidden. */
  readonly upstream: string;
  /**
   * From the transports: connect-failed, a warning (a connection or a check failed, once per
   * reason); connected, it works again. From the pool (health/status.ts), for every kind of
   * upstream: failing, a warning (its breaker opened; the message says why: timeouts, refused,
   * TLS or HTTP error); recovered, it answers again.
   */
  readonly kind: 'connect-failed' | 'connected' | 'failing' | 'recovered';
  readonly code: ErrorCode | null;
  readonly message: string;
}

export interface EncryptedTransportSettings {
  /** PEM certificates to trust instead of the system store. */
  readonly caPem?: string;
  /** RFC 8467 block padding for queries; 0 turns it off. */
  readonly paddingBlockBytes: number;
  /** An open connection with nothing in flight for this long is closed. */
  readonly idleTimeoutMs: number;
  /** TCP and TLS handshakes together may take this long. */
  readonly connectTimeoutMs: number;
  /** A connection with a query unanswered this long and nothing received since is dead. */
  readonly silentConnectionMs: number;
  /**
   * The upstream's retransmit timeout now (the pool's estimate): a connection with a query
   * unanswered this long and nothing received since takes no new queries (#12). Absent: only
   * `silentConnectionMs` applies.
   */
  readonly rtoMs?: () => number;
  /** DoH: connections per upstream, each carrying one request at a time (HTTP/1.1). */
  readonly httpConnections: number;
  /** Resolves an upstream given by host name (the bootstrap); absent: names are refused. */
  readonly resolveHost?: HostResolver;
  /**
   * The HTTP proxy every connection goes through (CONNECT); absent: connect directly. An
   * upstream's host name is then sent to the proxy to resolve; the proxy's own is resolved here.
   */
  readonly proxy?: ProxyUrl;
  readonly onEvent?: (event: UpstreamEvent) => void;
  /** Whether the clock can be believed for certificates' validity (#12); absent: always. */
  readonly clockGuard?: ClockGuard;
  /** relay+https:// and relay+http:// upstreams. */
  readonly relay?: RelayClientSettings;
}

export interface HostResolver {
  /** An address for `name`, from a cache or asked now. */
  resolve(name: string): Promise<string>;
  /** The cached address for `name` failed: ask again next time. */
  forget(name: string): void;
}

/** The settings table's defaults (src/config/settings.ts), the one place they are written. */
export const DEFAULT_ENCRYPTED_SETTINGS: EncryptedTransportSettings = {
  paddingBlockBytes: DEFAULT_CONFIG.encryptedUpstream.paddingBlockBytes,
  idleTimeoutMs: DEFAULT_CONFIG.encryptedUpstream.idleTimeoutMs,
  connectTimeoutMs: DEFAULT_CONFIG.encryptedUpstream.connectTimeoutMs,
  silentConnectionMs: DEFAULT_CONFIG.encryptedUpstream.silentConnectionMs,
  httpConnections: DEFAULT_CONFIG.encryptedUpstream.httpConnections,
};

export const RelayInfoCheck = { require: 'require', warn: 'warn', off: 'off' } as const;
export type RelayInfoCheck = (typeof RelayInfoCheck)[keyof typeof RelayInfoCheck];

export interface RelayClientSettings {
  /** Bearer token for relays whose URL carries none; null: none. */
  readonly token: string | null;
  /** How long the first question of a batch waits for others. */
  readonly batchWindowMs: number;
  /** Our side of the protocol's limits: batches never pass them, nor the relay's. */
  readonly limits: RelayLimits;
  readonly infoCheck: RelayInfoCheck;
  /** Request bodies at least this long are sent gzipped; smaller ones are not worth it. */
  readonly gzipMinBytes: number;
}


