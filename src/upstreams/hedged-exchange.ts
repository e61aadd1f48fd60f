// One query to the upstreams, as a series of copies. The first copy goes to the best upstream;
// when its silence more likely means loss than a slow reply (copyWaitMs), another copy goes out
// (to the next healthy upstream if there is one, else to the same one again) while the earlier
// copies keep listening: on a lossy link the first reply to any copy wins. Every copy after the
// first is a retry and must be paid for from the retry budget, so loss never becomes a retry
// storm.
//
// A copy ends early on a hard error (the next one goes out at once) or on SERVFAIL/REFUSED
// (that upstream has given its answer and is not asked again; the answer is kept in case no
// other upstream does better). The exchange ends at the first usable reply, or when nothing
// is left listening and nothing more may be sent, or at the total deadline.

import { ErrorCode, HoldfastError, isHoldfastError, Rcode } from '../core/errors.ts';
import type { CorePorts } from '../core/ports.ts';
import type { Counters } from '../core/counters.ts';
import { scanMessage, type ScannedMessage } from '../core/wire/message.ts';
import type { RetryBudget } from './health/retry-budget.ts';
import { hedgeAfterMs } from './health/latency.ts';
import type { PoolForExchange, PoolOptions, UpstreamHealth, UpstreamReply } from './pool-types.ts';
import type { DueItem, DueList } from './due-list.ts';
import { Stop } from './stop.ts';
import { exchangeTcp } from './tcp.ts';
import type { CopySink } from './transport.ts';

/** Each further copy to the same upstream waits this much longer than the one before... */
const BACKOFF = 1.5;
/**
 * ...up to this many RTOs. Past a few RTOs a copy's silence says the packet was lost, not that
 * the upstream is slow; waiting longer only spends the client's time, and the breaker, not the
 * backoff, is what stops us asking a dead upstream.
 */
const MAX_WAIT_RTOS = 4;
/**
 * When at least this share of an upstream's copies goes unanswered, silence is taken for loss
 * and copies follow one wait apart without backing off: on a link losing half its copies that
 * cuts the slowest answers by about half, at little extra traffic, since a lost copy's
 * successor goes out sooner, not more often. Below it, silence more likely means a slow answer,
 * and waiting longer each time spares the upstream. A tenth, not more: 10% loss each way loses
 * a fifth of the copies, and backing off there made its slowest answers a third slower (#12).
 */
const LOSSY_SHARE = 0.1;
/**
 * On a link losing at least PAIR_SHARE of the copies, once PAIR_AFTER_COPIES copies of one query
 * went unanswered, two copies go out at a time. Few queries get this far (at 30% loss each way,
 * a quarter), so the pairs cost little on average (about 0.2 packets a query there) and bring
 * the seventh copy, which a p99 needs there, from the seventh round to the fifth: at an 80 ms
 * round trip a p99 near 450 ms instead of about 600. Below PAIR_SHARE (10% loss each way loses
 * a fifth) a pair would rarely be needed, and would only add packets.
 */
const PAIR_SHARE = 0.35;
const PAIR_AFTER_COPIES = 2;

/**
 * How long a copy to `h` (its `n`th to this query, from 0) is given before the next copy goes:
 * until its silence says "lost" by `h`'s own reply times and loss (latency.ts), or by RFC 6298's
 * RTO until enough replies were seen; backing off for each further copy unless the link is
 * lossy; never beyond `rtoMaxMs` nor below `rtoMinMs`.
 */
export function copyWaitMs(h: UpstreamHealth, n: number, options: Pick<PoolOptions, 'rtoMinMs' | 'rtoMaxMs'>): number {
  const base = hedgeAfterMs(h.latency, h.lossEstimate) ?? h.rto.rtoMs;
  const growth = h.lossEstimate >= LOSSY_SHARE ? 1 : Math.min(BACKOFF ** n, MAX_WAIT_RTOS);
  return Math.min(options.rtoMaxMs, Math.max(options.rtoMinMs, base) * growth);
}

/**
 * One copy in flight: the signal that stops it (its transport listens to the copy itself), and
 * where a transport with exchangeTo() delivers its outcome.
 */
class Copy extends Stop implements CopySink {
  readonly ex: HedgedExchange;
  readonly h: UpstreamHealth;
  readonly sentAtMs: number;
  /** The query under this copy's ID. */
  readonly bytes: Uint8Array;
  /** Ended: replied, failed or stopped. */
  ended = false;
  /** Already counted as silent, at its RTO. */
  judged = false;

  constructor(ex: HedgedExchange, h: UpstreamHealth, sentAtMs: number, bytes: Uint8Array) {
    super();
    this.ex = ex;
    this.h = h;
    this.sentAtMs = sentAtMs;
    this.bytes = bytes;
  }

  landed(reply: Uint8Array): void {
    this.ex.landed(this, reply);
  }

  failed(error: Error): void {
    this.ex.ended(this, error);
  }
}

/** The same query under another ID, so each copy's reply names the copy it answers. */
function withId(query: Uint8Array, id: number): Uint8Array {
  const copy = query.slice();
  copy[0] = id >> 8;
  copy[1] = id & 0xff;
  return copy;
}

/**
 * What a copy's bytes are worth: the reply, or, when it came back truncated over UDP, the promise
 * of the same query asked over TCP until `untilMs` (RFC 7766 §5). Throws upstreamBadReply for
 * bytes that do not scan. Not async, and not a promise for the common reply: a miss pays for one
 * promise per copy, its transport's (#11).
 */
function replyOf(
  ports: CorePorts,
  counters: Counters,
  h: UpstreamHealth,
  query: Uint8Array,
  bytes: Uint8Array,
  sentAtMs: number,
  untilMs: number,
  stop: Stop | undefined,
): UpstreamReply | Promise<UpstreamReply> {
  const scan = scanMessage(bytes);
  if (typeof scan !== 'string' && scan.truncated && h.spec.protocol === 'udp') {
    counters.upstream_tcp_fallbacks++;
    const leftMs = Math.max(1, untilMs - ports.clock.now());
    return exchangeTcp(ports, h.spec, query, leftMs, counters, stop).then((tcp) => usable(ports, counters, h, tcp, scanMessage(tcp), sentAtMs));
  }
  return usable(ports, counters, h, bytes, scan, sentAtMs);
}

function usable(ports: CorePorts, counters: Counters, h: UpstreamHealth, bytes: Uint8Array, scan: ScannedMessage | string, sentAtMs: number): UpstreamReply {
  if (typeof scan === 'string') {
    counters.upstream_bad_replies++;
    throw new HoldfastError(ErrorCode.upstreamBadReply, `upstream: unusable reply from ${h.spec.label} (${scan})`);
  }
  return { bytes, scan, upstream: h.spec, rttMs: ports.clock.now() - sentAtMs };
}

/** What a transport threw, as a HoldfastError: anything unexpected is that upstream's network failure. */
function asUpstreamError(h: UpstreamHealth, e: unknown): HoldfastError {
  if (e instanceof HoldfastError) return e;
  return new HoldfastError(ErrorCode.upstreamNetwork, `upstream: ${h.spec.label} failed (${e instanceof Error ? e.message : String(e)})`);
}

/**
 * One exchange's state, and its steps as methods: a miss used to build a dozen closures, a Map
 * and a Set for this (4% of its CPU on Bun, #11). It waits for its next copy's moment on the
 * pool's DueList, not on a timer of its own.
 */
class HedgedExchange implements DueItem {
  readonly query: Uint8Array;
  readonly pool: PoolForExchange;
  readonly options: PoolOptions;
  readonly ports: CorePorts;
  readonly counters: Counters;
  readonly budget: RetryBudget;
  readonly hedges: DueList;
  readonly deadline: number;
  readonly copies: Copy[] = [];
  /** The upstream of each copy sent, the probe's included: an upstream once per copy. */
  readonly sentTo: UpstreamHealth[] = [];
  /** Upstreams that gave their answer (SERVFAIL/REFUSED, a refusal) and are not asked again. */
  finished: UpstreamHealth[] | null = null;
  refusal: UpstreamReply | null = null;
  lastError: HoldfastError | null = null;
  over = false;
  resolve: (reply: UpstreamReply) => void = noop;
  reject: (e: Error) => void = noop;
  /** The copy whose wait the DueList keeps; at its moment the copies up to it are judged silent. */
  waiting: Copy | null = null;
  dueAtMs = Infinity;
  dueIndex = -1;

  constructor(query: Uint8Array, pool: PoolForExchange, options: PoolOptions, ports: CorePorts, counters: Counters, budget: RetryBudget, hedges: DueList, deadline: number) {
    this.query = query;
    this.pool = pool;
    this.options = options;
    this.ports = ports;
    this.counters = counters;
    this.budget = budget;
    this.hedges = hedges;
    this.deadline = deadline;
  }

  live(): boolean {
    for (const c of this.copies) if (!c.ended) return true;
    return false;
  }

  finish(reply: UpstreamReply | null): void {
    if (this.over) return;
    this.over = true;
    this.hedges.cancel(this);
    const copies = this.copies;
    for (const c of copies) {
      if (c.ended) continue;
      c.ended = true;
      if (!c.judged) this.pool.abandoned(c.h);
      c.abort();
    }
    this.pool.settled();
    const result = reply ?? this.refusal;
    if (result) this.resolve(result);
    else
      this.reject(
        new HoldfastError(
          ErrorCode.upstreamsExhausted,
          `upstream: no usable reply after ${copies.length} ${copies.length === 1 ? 'copy' : 'copies'} (${this.lastError?.message ?? 'deadline passed'})`,
          Rcode.SERVFAIL,
        ),
      );
  }

  /** Ends the exchange if nothing is listening and nothing more can be sent. */
  sendOrGiveUp(): void {
    if (!this.send(true) && !this.live()) this.finish(null);
  }

  /** `h` has given its answer for this query: its other copies stop and it is not asked again. */
  done(h: UpstreamHealth): void {
    (this.finished ??= []).push(h);
    for (const other of this.copies) {
      if (other.h === h && !other.ended) {
        other.ended = true;
        other.abort();
      }
    }
  }

  /** `c.h` answered, but not usefully: it is not asked again for this query. */
  gaveUp(c: Copy): void {
    this.done(c.h);
    c.h.failures++;
    c.h.consecutiveFailures++;
    if (!this.live()) this.sendOrGiveUp();
  }

  onReply(c: Copy, reply: UpstreamReply): void {
    c.ended = true;
    const now = this.ports.clock.now();
    const rcode = reply.scan.rcode;
    if (rcode === Rcode.SERVFAIL || rcode === Rcode.REFUSED) {
      // Alive, but no help for this name: a SERVFAIL can take the upstream's own timeouts,
      // so it is no RTT sample either.
      this.pool.replied(c.h, null, now, c.judged);
      this.refusal = reply;
      this.gaveUp(c);
      return;
    }
    this.pool.replied(c.h, now - c.sentAtMs, now, c.judged);
    this.finish(reply);
  }

  onError(c: Copy, e: unknown): void {
    if (c.ended) return; // stopped by us
    c.ended = true;
    const now = this.ports.clock.now();
    const err = asUpstreamError(c.h, e);
    this.lastError = err;
    if (this.pool.closed()) {
      // The pool's transports were closed under this copy (shutdown, or a reload's old pool):
      // no verdict on the upstream, and nothing more can be asked, so the query ends now.
      if (!c.judged) this.pool.abandoned(c.h);
      this.lastError = new HoldfastError(ErrorCode.upstreamAborted, 'upstream: the pool was closed');
      this.finish(null);
      return;
    }
    if (isHoldfastError(err, ErrorCode.upstreamTimeout)) {
      // Only the deadline ends a copy by timeout; its RTO may not have been judged yet.
      if (!c.judged) {
        c.judged = true;
        this.counters.upstream_timeouts++;
        this.pool.silent(c.h, c.sentAtMs, now);
      }
      if (!this.live()) this.finish(null);
      return;
    }
    this.counters.upstream_errors++;
    if (isHoldfastError(err, ErrorCode.upstreamBadReply) || isHoldfastError(err, ErrorCode.upstreamRelayItem)) {
      // A garbled reply (or a relay's failed item) still proves the upstream is there; it may
      // choke on this name only, so the breaker, which guards every name, is not told.
      this.pool.replied(c.h, null, now);
      this.gaveUp(c);
      return;
    }
    this.pool.failed(c.h, err, now);
    // A refusal (ICMP port unreachable, a reset to our SYN) is the upstream's answer, not a
    // loss: asking it again for this query would only be refused again, so the query goes to
    // the next upstream at once, or ends now (stale answer or SERVFAIL) when none is left.
    if (isHoldfastError(err, ErrorCode.upstreamRefused)) this.done(c.h);
    // Any transport's failure is that upstream's, never the end of the query.
    this.sendOrGiveUp();
  }

  /** A copy's transport answered: its reply, or its TCP retry's when it was truncated. */
  landed(c: Copy, bytes: Uint8Array): void {
    let reply: UpstreamReply | Promise<UpstreamReply>;
    try {
      reply = replyOf(this.ports, this.counters, c.h, c.bytes, bytes, c.sentAtMs, this.deadline, c);
    } catch (e) {
      this.ended(c, e);
      return;
    }
    if (reply instanceof Promise) {
      reply.then(
        (r) => this.ended(c, null, r),
        (e) => this.ended(c, e),
      );
      return;
    }
    this.ended(c, null, reply);
  }

  /** A copy is over, with a reply or an error; only then is it no longer in flight. */
  ended(c: Copy, e: unknown, reply?: UpstreamReply): void {
    if (reply === undefined) this.onError(c, e);
    else if (!c.ended) this.onReply(c, reply);
    c.h.inFlight--;
  }

  /** Sends one more copy if attempts, time, an upstream and (for a retry) the budget allow. */
  send(retry: boolean): boolean {
    if (this.over || this.copies.length >= this.options.maxAttempts || this.pool.closed()) return false;
    const now = this.ports.clock.now();
    if (this.deadline - now <= 0) return false;
    const h = this.pool.pick(this.sentTo, this.finished, now);
    if (h === null) return false;
    if (retry) {
      if (!this.budget.tryWithdraw(now)) {
        this.counters.upstream_retries_refused++;
        // pick() may have admitted a half-open probe that is not going out after all.
        this.pool.abandoned(h);
        return false;
      }
      this.counters.upstream_retries++;
    }
    this.sendTo(h, now);
    return true;
  }

  sendProbe(h: UpstreamHealth, now: number): void {
    const { ports, counters, pool } = this;
    const clock = ports.clock;
    counters.upstream_probes++;
    counters.upstream_queries++;
    h.queries++;
    h.inFlight++;
    this.sentTo.push(h);
    const timeoutMs = this.options.rtoMaxMs;
    const bytes = withId(this.query, ports.entropy.id16());
    // Never stopped: it listens for its full time (below).
    h.transport
      .exchange(bytes, timeoutMs)
      .then((b) => replyOf(ports, counters, h, bytes, b, now, now + timeoutMs, undefined))
      .then(
        (reply) => {
          const at = clock.now();
          const rcode = reply.scan.rcode;
          const usable = rcode !== Rcode.SERVFAIL && rcode !== Rcode.REFUSED;
          pool.replied(h, usable ? at - now : null, at);
          if (usable) this.finish(reply);
        },
        (e) => {
          if (isHoldfastError(e, ErrorCode.upstreamTimeout)) pool.silent(h, now, clock.now());
          else pool.failed(h, asUpstreamError(h, e), clock.now());
        },
      )
      .finally(() => {
        h.inFlight--;
      });
  }

  /** One copy to `h`; the next copy follows when this one outlives its wait. */
  sendTo(h: UpstreamHealth, now: number): void {
    const n = copiesTo(this.sentTo, h);
    this.sentTo.push(h);
    const copies = this.copies;
    const bytes = copies.length === 0 ? this.query : withId(this.query, this.ports.entropy.id16());
    const c = new Copy(this, h, now, bytes);
    copies.push(c);
    h.queries++;
    h.inFlight++;
    this.counters.upstream_queries++;
    // Every kind of upstream behind one interface: over TLS and HTTPS this copy is one query on
    // a shared connection, never a connection of its own.
    const transport = h.transport;
    if (transport.exchangeTo) transport.exchangeTo(bytes, this.deadline - now, c);
    else
      transport.exchange(bytes, this.deadline - now, c).then(
        (b) => this.landed(c, b),
        (e) => this.ended(c, e),
      );
    const waitMs = copyWaitMs(h, n, this.options);
    if (waitMs < this.deadline - now) {
      this.waiting = c;
      this.hedges.schedule(this, waitMs);
    } else {
      this.waiting = null;
      this.hedges.cancel(this);
    }
  }

  /** The DueList's call: the copy sent last (and the first of a pair sent with it) outlived its wait. */
  due(): void {
    const c = this.waiting;
    this.waiting = null;
    if (this.over || c === null) return;
    const now = this.ports.clock.now();
    for (const x of this.copies) {
      if (x.ended || x.judged || x.sentAtMs > c.sentAtMs) continue;
      x.judged = true;
      this.counters.upstream_timeouts++;
      this.pool.silent(x.h, x.sentAtMs, now);
    }
    // A pair is two sends; sendTo() keeps one wait, the second's, so the two are judged
    // together when it ends.
    if (this.copies.length >= PAIR_AFTER_COPIES && c.h.lossEstimate >= PAIR_SHARE) this.send(true);
    this.send(true);
  }

  start(): void {
    if (!this.send(false)) {
      this.counters.upstream_unavailable++;
      this.over = true;
      this.pool.settled();
      this.reject(new HoldfastError(ErrorCode.upstreamsUnavailable, 'upstream: every upstream is failing or busy; not asking now', Rcode.SERVFAIL));
      return;
    }
    // A recovering upstream is probed alongside the healthy one, so it can earn its place back
    // even while others answer well. The probe is not stopped when another copy wins: it
    // listens for its full time, so the breaker always gets its verdict, and one probe per
    // cooldown is all a dead upstream costs.
    const now = this.ports.clock.now();
    const probe = this.pool.probe(this.sentTo, now);
    if (probe) this.sendProbe(probe, now);
  }
}

function noop(): void {}

/** The copies of a query sent to `h`, from `sentTo`, which names an upstream once per copy (a list of one or two). */
export function copiesTo(sentTo: readonly UpstreamHealth[], h: UpstreamHealth): number {
  let n = 0;
  for (const x of sentTo) if (x === h) n++;
  return n;
}

/**
 * Asks the upstreams for `query` as a HedgedExchange: the first copy now, more as earlier ones
 * outlive their wait (on `hedges`, the pool's one timer).
 */
export function hedgedExchange(
  query: Uint8Array,
  pool: PoolForExchange,
  options: PoolOptions,
  ports: CorePorts,
  counters: Counters,
  budget: RetryBudget,
  hedges: DueList,
): Promise<UpstreamReply> {
  const start = ports.clock.now();
  budget.deposit(start);
  const ex = new HedgedExchange(query, pool, options, ports, counters, budget, hedges, start + options.totalTimeoutMs);
  const promise = new Promise<UpstreamReply>((resolve, reject) => {
    ex.resolve = resolve;
    ex.reject = reject;
  });
  ex.start();
  return promise;
}
