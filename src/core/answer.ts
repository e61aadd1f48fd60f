// What each stage hands back up the chain: the reply's content and where it came from.
// handle() turns it into bytes for one client; logs and metrics read `source`.

import type { Query, QueryHeader } from './wire/query.ts';
import type { StoredMessage } from './wire/message.ts';

export const Source = {
  cacheFresh: 'cache-fresh',
  /** Expired, served because the upstreams failed or were too slow (RFC 8767). */
  cacheStale: 'cache-stale',
  /** Just expired, answered at once while a background refresh runs (stale-while-revalidate). */
  cacheRevalidating: 'cache-revalidating',
  negative: 'negative',
  upstream: 'upstream',
  synthetic: 'synthetic',
  /** From local data (hosts files, leases, records), or NXDOMAIN for a name only the LAN may have. */
  local: 'local',
  /** A block list (or the Firefox canary) answered: `reason` names the list and the rule. */
  blocked: 'blocked',
  /** A --rewrite answered (an address, or a CNAME and its target's answer): `reason` names the rule. */
  rewrite: 'rewrite',
  /** A --forward-zone's own upstreams answered: `reason` names the zone and the upstream. */
  forwardZone: 'forward-zone',
  failure: 'failure',
} as const;
export type Source = (typeof Source)[keyof typeof Source];

export interface ClientInfo {
  readonly address: string;
  readonly port: number;
  readonly transport: 'udp' | 'tcp';
}

export interface Request {
  readonly query: Query;
  readonly client: ClientInfo;
  /** No client waits for this one (a background refresh, a prefetch): it yields to those that do. */
  readonly background?: boolean;
}

export interface Answer {
  readonly source: Source;
  /** A short why, for logs: "ttl 120s left", "timeout from 192.0.2.1:53". */
  readonly reason: string;
  readonly rcode: number;
  /** The stored reply to re-dress for the client, or null for a bare rcode answer. */
  readonly message: StoredMessage | null;
  /** Seconds since `message` was stored: served TTLs count down by this. */
  readonly ageSeconds: number;
  /** Set by the coalescing stage on answers it shared, so the cache stores them only once. */
  readonly shared?: boolean;
  /** Every TTL in the reply is at most this (stale answers, RFC 8767 §4). */
  readonly ttlOverrideSeconds?: number;
  /** On an answer from expired data: how far past expiry, within which window (for the query log). */
  readonly stale?: { readonly pastExpirySeconds: number; readonly windowSeconds: number };
  /** RFC 8482 minimal reply for ANY over UDP. */
  readonly minimalAny?: boolean;
}

/**
 * A stage may answer synchronously. A cache hit, the commonest answer, then completes in the
 * same turn that received the packet, with no promise to allocate or microtask to wait for.
 */
export type MaybePromise<T> = T | Promise<T>;
export type Next = (req: Request) => MaybePromise<Answer>;
export type Stage = (req: Request, next: Next) => MaybePromise<Answer>;

/**
 * A stage's word that it would hand `q` on down the chain untouched: no answer, nothing kept,
 * nothing counted. Read from the question alone, without allocating; it may say false when
 * unsure (the query then goes through the chain as usual). What lets a cache hit skip the
 * stages above the cache (HitPath).
 */
export type PassesOn = (q: QueryHeader, transport: ClientInfo['transport']) => boolean;

/**
 * The chain's answer to a fresh cache hit, without the chain (#11): what a datagram that the
 * cache answers costs is then a lookup and a copy, with no object made. Its replies are the
 * chain's, byte for byte; every stage above the cache must have said it passes the query on.
 */
export interface HitPath {
  /**
   * A fresh cached answer to `q` that no stage above the cache would take from the cache: a
   * number for answer(), or -1. Changes nothing (no use is counted) and reads the clock once.
   */
  find(q: QueryHeader, transport: ClientInfo['transport']): number;
  /**
   * Answers `q` from what find() just gave, in the same turn: counts the use as the cache stage
   * does and writes the reply into `out`, as handle() renders it within `limit` bytes.
   * Returns its length.
   */
  answer(found: number, q: QueryHeader, limit: number, out: Uint8Array): number;
  /** The answer's source (fresh or negative), for counters and latency. */
  source(found: number): Source;
}
