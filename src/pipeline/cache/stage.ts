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
import { queryFromKey, type Query, type QueryHeader } from '../../core/wire/query.ts';
import { dressStored, storedReplyBytes, writeBareReply } from '../../core/wire/reply.ts';
import { nameToText } from '../../core/wire/names.ts';
import { cacheTtlSeconds, createStaleLimits, replyKind, replyKindOf, ReplyKind, staleRules, type CachePolicy } from './policy.ts';
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

/** The cache's part of a HitPath (core/answer.ts): what the stage answers fresh, rendered as handle() would. */
export interface CacheHits {
  /** The slot of `q`'s fresh entry, or -1 when the stage would do more than answer it at once. Changes nothing. */
  find(q: QueryHeader): number;
  /** The stage's fresh answer from `slot`, rendered as handle() renders it, into `out`: its length. */
  answer(slot: number, q: QueryHeader, limit: number, out: Uint8Array): number;
  source(slot: number): Source;
}

export function createCacheStage(
  options: CacheStageOptions,
  ports: { clock: Clock; timers?: Timers },
  counters: Counters,
): {
  stage: Stage;
  /** The stage's fresh hits without a Request, an Answer or a copy of the reply (#11). */
  hits: CacheHits;
  store: CacheStore;
  refresh: (key: string, e: CacheEntry, next: Next) => Promise<boolean>;
  /** The cache file is loading until `loaded` settles: a miss that fails upstream waits for it. */
  loadingUntil: (loaded: Promise<unknown>) => void;
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

  /** Counts a client's use of `slot`, telling prefetch when the entry has just become popular. */
  const used = (key: string | null, slot: number, now: number) => {
    const score = store.addHit(slot, now, halfLifeMs);
    // Only on the way up through the threshold: no map write on every hit of a popular name.
    if (onPopular && score >= minPopularity && score - 1 < minPopularity) onPopular(key ?? store.keyAt(slot));
  };

  const keep = (key: string, answer: Answer): Answer => {
    // A forward zone's upstreams are upstreams too (src/pipeline/forward): their answers are
    // cached and served stale like the main ones'.
    if (answer.message && !answer.shared && (answer.source === Source.upstream || answer.source === Source.forwardZone)) {
      const ttl = cacheTtlSeconds(answer.message, options);
      if (ttl > 0) {
        const before = store.stats.evictedExpired + store.stats.evictedLru;
        store.put(key, answer.message, clock.now(), ttl * 1000);
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

  // The cache file loads while the listeners already answer (#11). A name not loaded yet goes
  // upstream as usual; only when that fails is the rest of the file waited for, since it may
  // hold the name: a router that boots with its uplink down still answers what it knew.
  let loading: Promise<unknown> | null = null;
  const fromFile = (key: string, during: Promise<unknown>, otherwise: () => Answer): Promise<Answer> =>
    during.then(() => {
      const s = store.find(key);
      if (s === -1) return otherwise();
      const h = store.handle(s);
      const q = guarded ? queryFromKey(key) : null;
      const windowMs = q ? windowMsFor(q) : staleWindowMs;
      if (clock.now() >= h.expiresAtMs + windowMs || replyKind(h.message) === ReplyKind.servfail) return otherwise();
      return staleAnswer(h, 'upstream failed; from the cache file, loaded meanwhile', windowMs);
    });

  /** A fresh entry's source: negative answers are counted apart. */
  const freshSource = (slot: number): Source =>
    replyKindOf(store.rcodeAt(slot), store.answerCountAt(slot)) === ReplyKind.negative ? Source.negative : Source.cacheFresh;

  // The stage's first branch below, for a query read in place; `hitNowMs` carries find()'s
  // clock reading to answer(), which follows it in the same turn.
  let hitNowMs = 0;
  const hits: CacheHits = {
    find(q) {
      const slot = store.findQuery(q);
      if (slot === -1) return -1;
      hitNowMs = clock.now();
      return hitNowMs < store.expiresAtMs(slot) ? slot : -1;
    },
    answer(slot, q, limit, out) {
      store.touch(slot);
      used(null, slot, hitNowMs);
      // handle()'s render(): renderStored() of messageAt(slot), within the limit.
      const rcode = store.rcodeAt(slot);
      const wireBytes = store.wireBytesAt(slot);
      if (storedReplyBytes(wireBytes, q) > limit) return writeBareReply(out, q, rcode, true);
      store.copyCountedDown(slot, out, Math.floor((hitNowMs - store.storedAtMs(slot)) / 1000));
      return dressStored(out, wireBytes, q, rcode, store.adAt(slot));
    },
    source: freshSource,
  };

  // Not async: a hit returns its answer synchronously (see MaybePromise in core/answer.ts).
  // A hit reads the store by slot number: no entry object, only the reply copied out.
  const stage: Stage = (req, next) => {
    const now = clock.now();
    const key = req.query.key;
    const slot = store.find(key);
    if (slot !== -1) {
      used(key, slot, now);
      const expiresAtMs = store.expiresAtMs(slot);
      if (now < expiresAtMs) {
        return {
          source: freshSource(slot),
          reason: `${Math.ceil((expiresAtMs - now) / 1000)}s left`,
          rcode: store.rcodeAt(slot),
          message: store.messageAt(slot),
          ageSeconds: Math.floor((now - store.storedAtMs(slot)) / 1000),
        };
      }
    }
    // Expired or absent: a handle, since what follows may outlive an eviction of the slot.
    const hit = slot === -1 ? undefined : store.handle(slot);
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
      const s = hit ? -1 : store.find(key);
      if (s !== -1) used(key, s, clock.now());
      return a;
    };
    if (slot === -1 && loading !== null) {
      const during = loading;
      return Promise.resolve(pending).then(
        (a) => (usable(a) ? kept(a) : fromFile(key, during, () => kept(a))),
        (e: unknown) =>
          fromFile(key, during, () => {
            throw e;
          }),
      );
    }
    return pending instanceof Promise ? pending.then(kept) : kept(pending);
  };
  const loadingUntil = (loaded: Promise<unknown>) => {
    loading = loaded;
    const done = () => {
      if (loading === loaded) loading = null;
    };
    loaded.then(done, done);
  };
  return { stage, hits, store, refresh, loadingUntil, guardStale };
}
