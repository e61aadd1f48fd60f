// How long a reply may be kept, by kind (RFC 1035 §7.3, RFC 2308 §5 and §7.1).

import { Rcode } from '../../core/errors.ts';
import type { StoredMessage } from '../../core/wire/message.ts';

export interface CachePolicy {
  readonly minTtlSeconds: number;
  readonly maxTtlSeconds: number;
  readonly negativeMaxTtlSeconds: number;
  /** RFC 2308 §7.1 allows up to five minutes; a few seconds spares a struggling upstream. */
  readonly servfailTtlSeconds: number;
}

export const ReplyKind = { positive: 'positive', negative: 'negative', servfail: 'servfail', other: 'other' } as const;
export type ReplyKind = (typeof ReplyKind)[keyof typeof ReplyKind];

export function replyKind(m: StoredMessage): ReplyKind {
  return replyKindOf(m.rcode, m.answerCount);
}

/** The same from the two fields it needs: the cache's hit path reads them without a message. */
export function replyKindOf(rcode: number, answerCount: number): ReplyKind {
  if (rcode === Rcode.NXDOMAIN) return ReplyKind.negative;
  if (rcode === Rcode.NOERROR) return answerCount === 0 ? ReplyKind.negative : ReplyKind.positive;
  if (rcode === Rcode.SERVFAIL) return ReplyKind.servfail;
  return ReplyKind.other;
}

/** Seconds to keep `m`, or 0 not to keep it. */
export function cacheTtlSeconds(m: StoredMessage, p: CachePolicy): number {
  switch (replyKind(m)) {
    case ReplyKind.positive:
      return m.minAnswerTtl <= 0 ? 0 : Math.min(Math.max(m.minAnswerTtl, p.minTtlSeconds), p.maxTtlSeconds);
    case ReplyKind.negative:
      // RFC 2308 §5: no SOA, no negative caching.
      return m.negativeTtl <= 0 ? 0 : Math.min(m.negativeTtl, p.negativeMaxTtlSeconds);
    case ReplyKind.servfail:
      return p.servfailTtlSeconds;
    default:
      return 0;
  }
}
