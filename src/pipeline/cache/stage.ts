// The cache stage: a fresh entry answers at once with its TTLs counted down; otherwise the
// query goes on down the chain and what comes back is kept for as long as policy allows.
// An expired entry is kept for a while longer (RFC 8767, "serve-stale"): when the upstreams
// fail, answer SERVFAIL or REFUSED, or take longer than the client can wait, the client gets
// the expired answer with a short TTL, and the refresh goes on in the background. Some names
// must never be served stale, or not for long (--no-stale, --max-stale: policy.ts); they get
// SERVFAIL instead when the upstreams fail.

import type { Clock, Timers } from '../../core/ports.ts';
import type { Counters } from '../../core/counters.ts';
import { Rcode } from '../../core/errors.ts';
import { Source, type Answer, type ClientInfo, type Next, type Request, type Stage } from '../../core/answer.ts';
import { queryFromKey, type Query } from '../../core/wire/query.ts';
import { nameToText } from '../../core/wire/names.ts';
import { cacheTtlSeconds, createStaleLimits, replyKind, ReplyKind, staleRules, type CachePolicy } from './policy.ts';
import { addHit } from './popularity.ts';
import { createCacheStore, type CacheEntry, type CacheStore } from './store.ts';

export interface StaleOptions {
  readonly staleWhileRevalidateSeconds: number;
  readonly staleIfErrorSeconds: number;
  readonly staleAnswerTtlSeconds: number;
  readonly staleRecheckSeconds: number;
  readonly staleClientWaitMs: number;
}

/** Names never served stale, or only so long past expiry (policy.ts); SIGHUP may change them. */
export interface StaleGuards {
  /** Domains: the names at or under each are never served stale. */
  readonly noStale: readonly string[];
  /** "DOMAIN=SECONDS": at most SECONDS past expiry for names at or under DOMAIN. */
  readonly maxStale: readonly string[];
}

export interface PopularityOptions {
  readonly halfLifeSeconds: number;
  /** The score from which `onPopular` is told about an entry. */
  readonly minPopularity: number;
  /** Called when an entry's score rises through `minPopularity`: prefetch keeps it fresh. */
  readonly onPopular?: (key: string) => void;
}

export interface CacheStageOptions extends CachePolicy, Partial<StaleOptions>, Partial<StaleGuards> {
  readonly maxEntries: number;
  readonly popularity?: PopularityOptions;
  /** Bound on the entries' cost in bytes (store.ts entryBytes); none when absent. */
  readonly maxBytes?: number;
}

/** Who asks when no client does: refreshes that prefetch starts. */
const BACKGROUND_CLIENT: ClientInfo = { address: 'holdfast', port: 0, transport: 'udp' };

/** Without stale options, expired entries are simply misses. */
const NO_STALE: StaleOptions = { staleWhileRevalidateSeconds: 0, staleIfErrorSeconds: 0, staleAnswerTtlSeconds: 30, staleRecheckSeconds: 30, staleClientWaitMs: 1_800 };

function usable(a: Answer): boolean {
  return a.message !== null && a.rcode !== Rcode.SERVFAIL && a.rcode !== Rcode.REFUSED;
}

export function createCacheStage(
  options: CacheStageOptions,
  ports: { clock: Clock; timers?: Timers },
  counters: Counters,
): {
  stage: Stage;
  store: CacheStore;
  refresh: (key: string, e: CacheEntry, next: Next) => Promise<boolean>;
  /** Puts new --no-stale and --max-stale rules in force (a reload). */
  guardStale: (guards: StaleGuards) => void;
} {
  const clock = ports.clock;
  const stale: StaleOptions = { ...NO_STALE, ...options };
  const staleWindowMs = stale.staleIfErrorSeconds * 1000;
  const revalidateWindowMs = Math.min(stale.staleWhileRevalidateSeconds * 1000, staleWindowMs);
  const store = createCacheStore(options.maxEntries, () => clock.now(), staleWindowMs, options.maxBytes);
  const halfLifeMs = (options.popularity?.halfLifeSeconds ?? 600) * 1000;
  const minPopularity = options.popularity?.minPopularity ?? Infinity;
  const onPopular = options.popularity?.onPopular;
  let guarded = false;
  let staleLimitSeconds: (name: string) => number = () => stale.staleIfErrorSeconds;
  const guardStale = (g: StaleGuards) => {
    const rules = staleRules(g.noStale, g.maxStale);
    guarded = rules.length > 0;
    staleLimitSeconds = createStaleLimits(rules, stale.staleIfErrorSeconds);
  };
  guardStale({ noStale: options.noStale ?? [], maxStale: options.maxStale ?? [] });
  /** How long past expiry this query's name may be served stale; read only for expired entries. */
  const windowMsFor = (q: Query) => (guarded ? staleLimitSeconds(nameToText(q.bytes, 12)) * 1000 : staleWindowMs);

  /** Counts a client's use of `e`, telling prefetch when the entry has just become popular. */
  const used = (key: string, e: CacheEntry, now: number) => {
    const score = addHit(e, now, halfLifeMs);
    // Only on the way up through the threshold: no map write on every hit of a popular name.
    if (onPopular && score >= minPopularity && score - 1 < minPopularity) onPopular(key);
  };

  const keep = (key: string, answer: Answer): Answer => {
    // A forward zone's upstreams are upstreams too (src/pipeline/forward): their answers are
    // cached and served stale like the main ones'.
    if (answer.message && !answer.shared && (answer.source === Source.upstream || answer.source === Source.forwardZone)) {
      const ttl = cacheTtlSeconds(answer.message, options);
      if (ttl > 0) {
        const before = store.stats.evictedExpired + store.stats.evictedLru;
        store.set(key, answer.message, clock.now(), ttl * 1000);
        counters.cache_inserts++;
        if (store.stats.evictedExpired + store.stats.evictedLru !== before) {
          counters.cache_evicted_expired = store.stats.evictedExpired;
          counters.cache_evicted_lru = store.stats.evictedLru;
        }
      }
    }
    return answer;
  };

  const staleAnswer = (e: CacheEntry, why: string, windowMs: number, source: Source = Source.cacheStale): Answer => {
    const now = clock.now();
    return {
      source,
      reason: why,
      rcode: e.message.rcode,
      message: e.message,
      ageSeconds: Math.floor((now - e.storedAtMs) / 1000),
      ttlOverrideSeconds: stale.staleAnswerTtlSeconds,
      stale: { pastExpirySeconds: Math.max(0, Math.floor((now - e.expiresAtMs) / 1000)), windowSeconds: Math.floor(windowMs / 1000) },
    };
  };

  /** Asks upstream for an expired entry; the stale copy stands in if that goes badly. */
  const refreshOrStale = (key: string, e: CacheEntry, pending: Promise<Answer>, windowMs: number): Promise<Answer> => {
    const refreshed = pending.then(
      // An upstream SERVFAIL never replaces a good answer we still have.
      (a) => (usable(a) ? keep(key, a) : null),
      () => null,
    ).then((a) => {
      if (a === null) e.failedAtMs = clock.now();
      return a;
    });
    const timers = ports.timers;
    return new Promise<Answer>((resolve) => {
      const timer = timers?.setTimeout(() => resolve(staleAnswer(e, `upstream slower than ${stale.staleClientWaitMs} ms`, windowMs)), stale.staleClientWaitMs);
      refreshed.then((a) => {
        if (timer !== undefined) timers!.clearTimeout(timer);
        resolve(a ?? staleAnswer(e, 'upstream failed', windowMs));
      });
    });
  };

  /** One background refresh of `e` at a time; true when it brought a usable answer. */
  const revalidate = (key: string, e: CacheEntry, next: Next, req: Request): Promise<boolean> => {
    if (e.revalidating) return Promise.resolve(false);
    e.revalidating = true;
    return Promise.resolve()
      .then(() => next(req))
      .then(
        (a) => a,
        () => null,
      )
      .then((a) => {
        e.revalidating = false;
        if (a === null || !usable(a)) {
          e.failedAtMs = clock.now();
          return false;
        }
        keep(key, a);
        return true;
      });
  };

  /** Refreshes `e` though no client asked (prefetch). */
  const refresh = (key: string, e: CacheEntry, next: Next): Promise<boolean> => {
    const query = queryFromKey(key);
    if (query === null) return Promise.resolve(false);
    return revalidate(key, e, next, { query, client: BACKGROUND_CLIENT, background: true });
  };

  // Not async: a hit returns its answer synchronously (see MaybePromise in core/answer.ts).
  const stage: Stage = (req, next) => {
    const now = clock.now();
    const key = req.query.key;
    const hit = store.get(key);
    if (hit) used(key, hit, now);
    if (hit && now < hit.expiresAtMs) {
      const negative = replyKind(hit.message) === ReplyKind.negative;
      return {
        source: negative ? Source.negative : Source.cacheFresh,
        reason: `${Math.ceil((hit.expiresAtMs - now) / 1000)}s left`,
        rcode: hit.message.rcode,
        message: hit.message,
        ageSeconds: Math.floor((now - hit.storedAtMs) / 1000),
      };
    }
    const windowMs = hit !== undefined && now < hit.expiresAtMs + staleWindowMs ? windowMsFor(req.query) : 0;
    const servable = hit !== undefined && now < hit.expiresAtMs + windowMs && replyKind(hit.message) !== ReplyKind.servfail;
    if (servable && now - hit.failedAtMs < stale.staleRecheckSeconds * 1000) {
      return staleAnswer(hit, 'upstream failed recently', windowMs);
    }
    if (servable && now < hit.expiresAtMs + Math.min(revalidateWindowMs, windowMs)) {
      revalidate(key, hit, next, { ...req, background: true });
      return staleAnswer(hit, 'refreshing in the background', windowMs, Source.cacheRevalidating);
    }
    const pending = next(req);
    if (servable) return refreshOrStale(key, hit, Promise.resolve(pending), windowMs);
    const kept = (a: Answer) => {
      keep(key, a);
      // A first miss counts as a use of what it brought (a refresh above kept the old score).
      const e = hit ? undefined : store.peek(key);
      if (e) used(key, e, clock.now());
      return a;
    };
    return pending instanceof Promise ? pending.then(kept) : kept(pending);
  };
  return { stage, store, refresh, guardStale };
}
