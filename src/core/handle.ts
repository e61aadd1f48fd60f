// The one contract between adapters and the pipeline: bytes in, bytes (or silence) out.
// Parsing and every rcode decision live here; stages only answer or throw.

import { Source, type Answer, type ClientInfo, type HitPath, type Next } from './answer.ts';
import type { Counters } from './counters.ts';
import { HoldfastError, Rcode } from './errors.ts';
import type { LatencyHistograms } from './latency.ts';
import { Flag2, HEADER_BYTES, isResponse } from './wire/header.ts';
import { QueryProblem, createScannedQuery, parseQuery, scanQuery } from './wire/query.ts';
import { OUR_UDP_SIZE, bareReply, headerOnlyReply, minimalAnyReply, renderStored, replyLimit } from './wire/reply.ts';
import type { Query } from './wire/query.ts';

/**
 * A reply, or null for silence; synchronous when the pipeline answered synchronously (a cache
 * hit), so adapters must accept both. `hit`, where present, answers fresh cache hits over UDP
 * without a ClientInfo or any other object (UdpHit).
 */
export type Handle = ((bytes: Uint8Array, client: ClientInfo) => Uint8Array | null | Promise<Uint8Array | null>) & { readonly hit?: UdpHit };

/**
 * handle() for a UDP datagram from `address` that the cache answers fresh (#11): the reply,
 * counted, timed and logged as handle() would, or null for silence (a client turned away).
 * The reply is a view of a buffer that the next call overwrites: send it at once, or copy it.
 * Undefined when this is not such a datagram: nothing was counted or changed, and handle()
 * must take it.
 */
export type UdpHit = (bytes: Uint8Array, address: string) => Uint8Array | null | undefined;

export interface HandledQuery {
  readonly query: Query;
  readonly client: ClientInfo;
  readonly answer: Answer | null;
  readonly error: unknown;
  readonly reply: Uint8Array;
  /** How long the client waited, from the parsed query to the rendered reply, when timed (HandleOptions.latency). */
  readonly waitedMs?: number;
}

/** What to do with a client's message before it is parsed (src/gate decides). */
export const Admit = {
  answer: 0,
  /** No reply at all. */
  drop: 1,
  /** REFUSED, echoing the question. */
  refuse: 2,
  /** TC=1 with no records, so the client asks again over TCP (UDP only). */
  truncate: 3,
} as const;
export type AdmitAction = (typeof Admit)[keyof typeof Admit];

export interface HandleOptions {
  /** Called once per answered query, after the reply is built: the top-level log hook. */
  readonly onAnswered?: (handled: HandledQuery) => void;
  /** Access control and rate limits, asked once per message; absent means answer everyone. */
  readonly admit?: (address: string, transport: ClientInfo['transport']) => AdmitAction;
  /** The chain's fresh cache hits without the chain: enables Handle.hit (core/answer.ts). */
  readonly hits?: HitPath;
  /** Records how long each answer took, by source, read from `now` (ms, sub-ms resolution). */
  readonly latency?: { readonly histograms: LatencyHistograms; readonly now: () => number };
}

export function createHandle(chain: Next, counters: Counters, options: HandleOptions = {}): Handle {
  const { handle, turnedAway } = createFullHandle(chain, counters, options);
  // With a query log, every answer needs its HandledQuery: the full path builds it.
  if (options.hits === undefined || options.onAnswered !== undefined) return handle;
  return Object.assign(handle, { hit: createUdpHit(options.hits, counters, options, turnedAway) });
}

/**
 * Handle.hit: the checks handle() makes, in its order, on a query read in place; then the
 * pipeline's HitPath. Everything that decides whether this is a hit is read before anything is
 * counted, so handing the datagram to handle() instead leaves nothing counted twice.
 */
function createUdpHit(hits: HitPath, counters: Counters, options: HandleOptions, turnedAway: (bytes: Uint8Array, action: AdmitAction) => Uint8Array | null): UdpHit {
  const admit = options.admit;
  const histograms = options.latency?.histograms ?? null;
  const q = createScannedQuery();
  // No UDP reply is longer (replyLimit) and a truncated one is the question and an OPT.
  const out = new Uint8Array(OUR_UDP_SIZE);
  // One view per reply length, made once: a subarray per reply would be an object per hit.
  const views: Array<Uint8Array | undefined> = [];
  return (bytes, address) => {
    if (!scanQuery(bytes, q)) return undefined;
    const limit = replyLimit(q, 'udp');
    if (limit > out.length) return undefined;
    const found = hits.find(q, 'udp');
    if (found === -1) return undefined;
    counters.queries_udp++;
    if (admit !== undefined) {
      const action = admit(address, 'udp');
      if (action !== Admit.answer) return turnedAway(bytes, action);
    }
    const length = hits.answer(found, q, limit, out);
    const source = hits.source(found);
    if (source === Source.negative) counters.answers_negative++;
    else counters.answers_cache_fresh++;
    if (out[2] & Flag2.TC) counters.truncated_udp++;
    // Answered within this call, in well under a microsecond: inside the first bucket (0.1 ms)
    // however it is timed, so it is recorded as 0 ms rather than paying two clock reads, which
    // add about a quarter to the hit's JavaScript (60-90 ns in hit-alloc-child's loop).
    if (histograms) histograms.observe(source, 0);
    return (views[length] ??= out.subarray(0, length));
  };
}

function createFullHandle(chain: Next, counters: Counters, options: HandleOptions) {
  const onAnswered = options.onAnswered;
  const admit = options.admit;
  const histograms = options.latency?.histograms ?? null;
  const now = options.latency?.now ?? (() => 0);

  function render(query: Query, client: ClientInfo, answer: Answer): Uint8Array {
    if (answer.minimalAny) return minimalAnyReply(query);
    if (!answer.message) return bareReply(query, answer.rcode);
    const limit = replyLimit(query, client.transport);
    const reply = renderStored(answer.message, query, answer.ageSeconds, limit, answer.ttlOverrideSeconds ?? -1);
    if (reply[2] & Flag2.TC) counters.truncated_udp++;
    return reply;
  }

  function count(answer: Answer): void {
    switch (answer.source) {
      case 'cache-fresh':
        counters.answers_cache_fresh++;
        break;
      case 'cache-stale':
        counters.answers_stale++;
        break;
      case 'cache-revalidating':
        counters.answers_stale_revalidating++;
        break;
      case 'negative':
        counters.answers_negative++;
        break;
      case 'upstream':
        counters.answers_upstream++;
        break;
      case 'synthetic':
        counters.answers_synthetic++;
        break;
      case 'local':
        counters.answers_local++;
        break;
      case 'blocked':
        counters.answers_blocked++;
        break;
      case 'rewrite':
        counters.answers_rewrite++;
        break;
      case 'forward-zone':
        counters.answers_forward_zone++;
        break;
      default:
        break;
    }
  }

  const handle = (bytes: Uint8Array, client: ClientInfo): Uint8Array | null | Promise<Uint8Array | null> => {
    if (client.transport === 'udp') counters.queries_udp++;
    else counters.queries_tcp++;
    // The header alone says whether this can be a query at all; only then does the client's
    // address matter, and only an admitted client's message is parsed further.
    if (bytes.length < HEADER_BYTES) {
      counters.dropped_short++;
      return null;
    }
    if (isResponse(bytes)) {
      counters.dropped_response++;
      return null;
    }
    if (admit !== undefined) {
      const action = admit(client.address, client.transport);
      if (action !== Admit.answer) return turnedAway(bytes, action);
    }
    const parsed = parseQuery(bytes);
    if (!parsed.ok) {
      switch (parsed.problem) {
        case QueryProblem.short:
          counters.dropped_short++;
          return null;
        case QueryProblem.response:
          counters.dropped_response++;
          return null;
        case QueryProblem.opcode:
          counters.notimp_opcode++;
          return headerOnlyReply(bytes, Rcode.NOTIMP);
        case QueryProblem.qdcount:
          counters.formerr_qdcount++;
          return headerOnlyReply(bytes, Rcode.FORMERR);
        case QueryProblem.badVersion:
          counters.badvers++;
          return bareReply(parsed.query!, Rcode.BADVERS);
        default:
          counters.formerr_malformed++;
          return headerOnlyReply(bytes, Rcode.FORMERR);
      }
    }
    const query = parsed.query;
    const req = { query, client };
    // Timed from a parsed query to a rendered reply: what the pipeline costs, not the socket.
    const startedMs = histograms ? now() : 0;
    let pending: Answer | Promise<Answer>;
    try {
      pending = chain(req);
    } catch (e) {
      return failed(query, client, e, startedMs);
    }
    if (pending instanceof Promise) return later(pending, query, client, startedMs);
    return answered(query, client, pending, startedMs);
  };
  return { handle, turnedAway };

  /**
   * A miss's reply, once the pipeline has it. Its own function, so the closures live here: in
   * the handler above they would cost every cache hit a scope object too (#11).
   */
  function later(pending: Promise<Answer>, query: Query, client: ClientInfo, startedMs: number): Promise<Uint8Array> {
    return pending.then((a) => answered(query, client, a, startedMs), (e) => failed(query, client, e, startedMs));
  }

  /**
   * A refused or rate-limited client's reply: the question echoed (so the client can match it
   * to its query, RFC 5452 §4) with REFUSED or TC=1, never larger than the query plus an OPT.
   * A message that does not parse gets nothing: such a client is owed no diagnosis.
   */
  function turnedAway(bytes: Uint8Array, action: AdmitAction): Uint8Array | null {
    if (action === Admit.drop) return null;
    const parsed = parseQuery(bytes);
    if (!parsed.ok) return null;
    return action === Admit.truncate ? bareReply(parsed.query, Rcode.NOERROR, true) : bareReply(parsed.query, Rcode.REFUSED);
  }

  function answered(query: Query, client: ClientInfo, answer: Answer, startedMs: number): Uint8Array {
    let reply: Uint8Array;
    try {
      count(answer);
      reply = render(query, client, answer);
    } catch (e) {
      return failed(query, client, e, startedMs);
    }
    const waitedMs = histograms ? now() - startedMs : undefined;
    if (histograms) histograms.observe(answer.source, waitedMs!);
    if (onAnswered) onAnswered({ query, client, answer, error: null, reply, waitedMs });
    return reply;
  }

  function failed(query: Query, client: ClientInfo, error: unknown, startedMs: number): Uint8Array {
    counters.answers_servfail++;
    const reply = bareReply(query, error instanceof HoldfastError ? error.rcode : Rcode.SERVFAIL);
    const waitedMs = histograms ? now() - startedMs : undefined;
    if (histograms) histograms.observe(Source.failure, waitedMs!);
    if (onAnswered) onAnswered({ query, client, answer: null, error, reply, waitedMs });
    return reply;
  }
}
