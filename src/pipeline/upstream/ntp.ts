// The NTP servers' names through the plain bootstrap (#12). A router without a battery-backed
// clock boots at its firmware's date; certificates then look not yet valid, and until the
// clock is set (src/upstreams/clock-guard.ts) or while the encrypted upstreams fail for any
// other reason, NTP could not find its servers, which it needs to set the clock. For the names
// given (--ntp-name) and those only, a query the upstreams cannot answer is asked of the
// --bootstrap upstreams in plain DNS. Every other name stays on the encrypted path.

import type { Counters } from '../../core/counters.ts';
import { ErrorCode, HoldfastError, Rcode } from '../../core/errors.ts';
import type { CorePorts } from '../../core/ports.ts';
import { Source, type Answer, type Next } from '../../core/answer.ts';
import { HEADER_BYTES, RRType } from '../../core/wire/header.ts';
import { nameToText } from '../../core/wire/names.ts';
import type { Query } from '../../core/wire/query.ts';
import { scanMessage, toStored } from '../../core/wire/message.ts';
import { upstreamQuery } from '../../core/wire/reply.ts';
import { exchangeTcp } from '../../upstreams/tcp.ts';
import { exchangeUdp } from '../../upstreams/udp.ts';
import type { UpstreamSpec } from '../../upstreams/spec.ts';

const TRY_TIMEOUT_MS = 2_000;
/** Plain answers are kept briefly, so the encrypted path takes over as soon as it works. */
const MAX_TTL_SECONDS = 60;

/** A name as a query's key begins: lower case, no trailing dot. */
const normal = (name: string) => name.toLowerCase().replace(/\.$/, '');

export interface NtpFallback {
  /** `next` (the upstreams), falling back to the bootstrap for an NTP server's address. */
  wrap(next: Next, healthy: () => boolean): Next;
}

export function createNtpFallback(names: readonly string[], bootstrap: readonly UpstreamSpec[], ports: CorePorts, counters: Counters): NtpFallback | null {
  if (names.length === 0 || bootstrap.length === 0) return null;
  const wanted = new Set(names.map(normal));
  const covers = (q: Query) => (q.qtype === RRType.A || q.qtype === RRType.AAAA) && wanted.has(normal(nameToText(q.bytes, HEADER_BYTES)));

  const ask = async (query: Query): Promise<Answer> => {
    let last = 'no bootstrap upstream answered';
    for (const u of bootstrap) {
      const q = upstreamQuery(query, ports.entropy.id16());
      try {
        const bytes = u.protocol === 'tcp' ? await exchangeTcp(ports, u, q, TRY_TIMEOUT_MS, counters) : await exchangeUdp(ports, u, q, TRY_TIMEOUT_MS, counters);
        const scan = scanMessage(bytes);
        if (typeof scan === 'string') {
          last = `${u.label}: ${scan}`;
          continue;
        }
        if (scan.rcode === Rcode.SERVFAIL || scan.rcode === Rcode.REFUSED) {
          last = `${u.label} answered rcode ${scan.rcode}`;
          continue;
        }
        const message = toStored(bytes, scan, MAX_TTL_SECONDS);
        return { source: Source.upstream, reason: `NTP server name through bootstrap ${u.label} (no encrypted upstream answered)`, rcode: message.rcode, message, ageSeconds: 0 };
      } catch (e) {
        last = (e as Error).message;
      }
    }
    throw new HoldfastError(ErrorCode.upstreamsUnavailable, `upstream: NTP server name through the bootstrap failed (${last})`, Rcode.SERVFAIL);
  };

  return {
    wrap(next, healthy) {
      return async (req) => {
        if (!covers(req.query)) return next(req);
        // No upstream is healthy: straight to the bootstrap, not after a wait.
        if (!healthy()) return ask(req.query);
        try {
          const answer = await next(req);
          if (answer.rcode !== Rcode.SERVFAIL && answer.rcode !== Rcode.REFUSED) return answer;
        } catch {
          // The encrypted path failed: the bootstrap below.
        }
        return ask(req.query);
      };
    },
  };
}
