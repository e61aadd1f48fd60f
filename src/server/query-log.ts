// The query log: the last N queries and how each was answered, kept in memory as a ring (so
// it is bounded, and nothing is written to a router's flash). Off unless --query-log N is
// given; the status page and /api/queries read it. --query-log-file also writes each entry to
// a file (query-log-file.ts).

import type { HandledQuery } from '../core/handle.ts';
import { Rcode } from '../core/errors.ts';
import { nameToText } from '../core/wire/names.ts';
import { rcodeName, typeName } from '../core/wire/type-names.ts';

export interface QueryLogEntry {
  readonly timeMs: number;
  readonly client: string;
  readonly transport: 'udp' | 'tcp';
  readonly name: string;
  readonly type: string;
  /** Where the answer came from (cache-fresh, upstream, ...), or failure. */
  readonly source: string;
  /** Why, in a few words: "hosts /etc/hosts:12", "upstream udp://192.0.2.1:53 in 12 ms". */
  readonly reason: string;
  readonly rcode: string;
  /** For a blocked answer: the list and rule ("ads.txt: ||ads.example^ (line 12)"). */
  readonly blockedBy?: string;
  /** How long the client waited for this answer, in ms (0.1 ms steps). */
  readonly waitedMs?: number;
  /** For an answer from expired data: seconds past its expiry... */
  readonly staleAgeSeconds?: number;
  /** ...within a window of this many (--stale-if-error, or the name's --max-stale). */
  readonly staleWindowSeconds?: number;
}

export interface QueryLog {
  record(handled: HandledQuery, nowMs: number): void;
  add(entry: QueryLogEntry): void;
  /** Newest first, at most `limit`. */
  recent(limit?: number): QueryLogEntry[];
  readonly capacity: number;
}

/** What the log keeps of one answered query. */
export function queryLogEntry(h: HandledQuery, nowMs: number): QueryLogEntry {
  const rcode = h.reply.length >= 4 ? h.reply[3] & 0x0f : Rcode.SERVFAIL;
  return {
    timeMs: nowMs,
    client: h.client.address,
    transport: h.client.transport,
    name: nameToText(h.query.bytes, 12),
    type: typeName(h.query.qtype),
    source: h.answer?.source ?? 'failure',
    reason: h.answer?.reason ?? (h.error instanceof Error ? h.error.message : String(h.error)),
    rcode: rcodeName(rcode),
    ...(h.answer?.source === 'blocked' ? { blockedBy: h.answer.reason } : {}),
    ...(h.waitedMs !== undefined ? { waitedMs: Math.round(h.waitedMs * 10) / 10 } : {}),
    ...(h.answer?.stale ? { staleAgeSeconds: h.answer.stale.pastExpirySeconds, staleWindowSeconds: h.answer.stale.windowSeconds } : {}),
  };
}

export function createQueryLog(capacity: number): QueryLog {
  const ring: Array<QueryLogEntry | undefined> = new Array(capacity);
  let next = 0;
  let size = 0;
  const add = (entry: QueryLogEntry) => {
    ring[next] = entry;
    next = (next + 1) % capacity;
    if (size < capacity) size++;
  };
  return {
    capacity,
    add,
    record(h, nowMs) {
      add(queryLogEntry(h, nowMs));
    },
    recent(limit = capacity) {
      const out: QueryLogEntry[] = [];
      for (let i = 1; i <= Math.min(size, limit); i++) out.push(ring[(next - i + capacity) % capacity]!);
      return out;
    },
  };
}
