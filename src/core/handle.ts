// The one contract between adapters and the pipeline: bytes in, bytes (or silence) out.
// Parsing and every rcode decision live here; stages only answer or throw.

import { Source, type Answer, type ClientInfo, type Next } from './answer.ts';
import type { Counters } from './counters.ts';
import { HoldfastError, Rcode } from './errors.ts';
import type { LatencyHistograms } from './latency.ts';
import { Flag2, HEADER_BYTES, isResponse } from './wire/header.ts';
import { QueryProblem, parseQuery } from './wire/query.ts';
import { bareReply, headerOnlyReply, minimalAnyReply, renderStored, replyLimit } from './wire/reply.ts';
import type { Query } from './wire/query.ts';

/**
 * A reply, or null for silence; synchronous when the pipeline answered synchronously (a cache
 * hit), so adapters must accept both.
 */
export type Handle = (bytes: Uint8Array, client: ClientInfo) => Uint8Array | null | Promise<Uint8Array | null>;

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
  readonly admit?: (client: ClientInfo) => AdmitAction;
  /** Records how long each answer took, by source, read from `now` (ms, sub-ms resolution). */
  readonly latency?: { readonly histograms: LatencyHistograms; readonly now: () => number };
}

export function createHandle(chain: Next, counters: Counters, options: HandleOptions = {}): Handle {
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

  return (bytes, client) => {
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
      const action = admit(client);
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
