// The one contract between adapters and the pipeline: bytes in, bytes (or silence) out.
// Parsing and every rcode decision live here; stages only answer or throw.

import type { Answer, ClientInfo, Next } from './answer.ts';
import type { Counters } from './counters.ts';
import { HoldfastError, Rcode } from './errors.ts';
import { Flag2 } from './wire/header.ts';
import { QueryProblem, parseQuery } from './wire/query.ts';
import { bareReply, headerOnlyReply, minimalAnyReply, renderStored, replyLimit } from './wire/reply.ts';
import type { Query } from './wire/query.ts';

export type Handle = (bytes: Uint8Array, client: ClientInfo) => Promise<Uint8Array | null>;

export interface HandledQuery {
  readonly query: Query;
  readonly client: ClientInfo;
  readonly answer: Answer | null;
  readonly error: unknown;
  readonly reply: Uint8Array;
}

export interface HandleOptions {
  /** Called once per answered query, after the reply is built: the top-level log hook. */
  readonly onAnswered?: (handled: HandledQuery) => void;
}

export function createHandle(chain: Next, counters: Counters, options: HandleOptions = {}): Handle {
  const onAnswered = options.onAnswered;

  function render(query: Query, client: ClientInfo, answer: Answer): Uint8Array {
    if (answer.minimalAny) return minimalAnyReply(query);
    if (!answer.message) return bareReply(query, answer.rcode);
    const limit = replyLimit(query, client.transport);
    const reply = renderStored(answer.message, query, answer.ageSeconds, limit);
    if (reply[2] & Flag2.TC) counters.truncated_udp++;
    return reply;
  }

  function count(answer: Answer): void {
    switch (answer.source) {
      case 'cache-fresh':
        counters.answers_cache_fresh++;
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
      default:
        break;
    }
  }

  return async (bytes, client) => {
    if (client.transport === 'udp') counters.queries_udp++;
    else counters.queries_tcp++;
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
    let answer: Answer | null = null;
    let error: unknown = null;
    let reply: Uint8Array;
    try {
      answer = await chain({ query, client });
      count(answer);
      reply = render(query, client, answer);
    } catch (e) {
      error = e;
      counters.answers_servfail++;
      reply = bareReply(query, e instanceof HoldfastError ? e.rcode : Rcode.SERVFAIL);
    }
    if (onAnswered) onAnswered({ query, client, answer, error, reply });
    return reply;
  };
}
