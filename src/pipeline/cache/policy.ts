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

/** One `--max-stale DOMAIN=SECONDS` rule (`--no-stale DOMAIN` is the same with 0). */
export interface StaleRule {
  readonly domain: string;
  readonly seconds: number;
}

/** "example.com=3600" as a rule, or a problem in words. */
export function parseMaxStale(text: string): StaleRule | string {
  const m = /^([^=\s]+)=(\d{1,9})$/.exec(text.trim());
  if (!m) return `"${text}" is not DOMAIN=SECONDS (such as example.com=3600)`;
  return { domain: m[1].toLowerCase().replace(/\.$/, ''), seconds: Number(m[2]) };
}

/**
 * Seconds past expiry a name may be answered from expired data, by the rule for the longest
 * domain it is at or under; `fallbackSeconds` (--stale-if-error) when no rule names it, and
 * never more. A name must never be served stale when a stale address does harm: dynamic DNS,
 * or a load balancer's name whose old address now belongs to someone else's certificate.
 */
export function createStaleLimits(rules: readonly StaleRule[], fallbackSeconds: number): (name: string) => number {
  const byDomain = new Map<string, number>();
  // A name given twice keeps its shortest window: --no-stale wins over a --max-stale for it.
  for (const r of rules) byDomain.set(r.domain, Math.min(r.seconds, byDomain.get(r.domain) ?? Infinity));
  if (byDomain.size === 0) return () => fallbackSeconds;
  return (name) => {
    let n = name.toLowerCase().replace(/\.$/, '');
    for (;;) {
      const seconds = byDomain.get(n);
      if (seconds !== undefined) return Math.min(seconds, fallbackSeconds);
      const dot = n.indexOf('.');
      if (dot < 0) return fallbackSeconds;
      n = n.slice(dot + 1);
    }
  };
}

/** The rules of `--no-stale` and `--max-stale` together. */
export function staleRules(noStale: readonly string[], maxStale: readonly string[]): StaleRule[] {
  const rules: StaleRule[] = noStale.map((d) => ({ domain: d.toLowerCase().replace(/\.$/, ''), seconds: 0 }));
  for (const text of maxStale) {
    const r = parseMaxStale(text);
    if (typeof r !== 'string') rules.push(r);
  }
  return rules;
}
