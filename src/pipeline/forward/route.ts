// The bottom of the chain: picks whose upstreams a query goes to. A name at or under a forward
// zone goes to that zone's upstreams only (the longest zone wins); any other to the main ones,
// whose answers lose their LAN addresses here (rebind protection) before the cache above can
// keep them. A zone's own upstreams are trusted with LAN addresses: a LAN server's are real.

import { Source, type Answer, type Next } from '../../core/answer.ts';
import type { Counters } from '../../core/counters.ts';
import type { Explanation } from '../explain.ts';
import { keyToText, nameKeyOf } from '../local/names.ts';
import type { RebindFilter } from './rebind.ts';
import { createZoneMatcher, type ForwardZone } from './zones.ts';

export interface ForwardRoute {
  readonly zone: ForwardZone;
  /** The zone's own upstream stage (pool, health, hedging), built like the main one. */
  readonly next: Next;
}

export interface RouterOptions {
  /** The main upstreams' stage. */
  readonly main: Next;
  readonly zones: readonly ForwardRoute[];
  readonly rebind: RebindFilter;
  /** A main upstream's answer for `name` (presentation) lost `removed` LAN addresses: for a log line. */
  readonly onRebindBlocked?: (name: string, removed: number) => void;
}

export interface Router {
  readonly next: Next;
  /** Which zone (and upstreams) a name goes to, or else whether rebind protection applies to it. */
  explain(name: string): Explanation | null;
}

export function createRouter(options: RouterOptions, counters: Counters): Router {
  const { main, zones, rebind } = options;
  const match = createZoneMatcher(zones.map((z) => z.zone));

  const fromMain = async (req: Parameters<Next>[0], key: string): Promise<Answer> => {
    const answer = await main(req);
    if (answer.message === null || rebind.allowedBy(key) !== null) return answer;
    const { message, removed } = rebind.filter(req.query, answer.message);
    if (removed === 0) return answer;
    counters.rebind_blocked++;
    const name = keyToText(key);
    options.onRebindBlocked?.(name, removed);
    return { ...answer, message, reason: `${answer.reason}; rebind protection removed ${removed} LAN address${removed === 1 ? '' : 'es'}` };
  };

  const next: Next = (req) => {
    const key = req.query.nameKey;
    const i = match(key);
    if (i < 0) return fromMain(req, key);
    const route = zones[i];
    const answer = route.next(req);
    const tag = (a: Answer): Answer => (a.source === Source.upstream ? { ...a, source: Source.forwardZone, reason: `${route.zone.name} ${a.reason}` } : a);
    return answer instanceof Promise ? answer.then(tag) : tag(answer);
  };

  return {
    next,
    explain(name) {
      const key = nameKeyOf(name);
      if (key === null) return null;
      const i = match(key);
      if (i >= 0) {
        const z = zones[i].zone;
        return { stage: 'forward-zone', answers: true, text: `forward zone ${z.name}: from the cache, or asked of ${z.upstreams.map((u) => u.label).join(', ')} only; rebind protection does not apply` };
      }
      if (!rebind.enabled) return null;
      const allowed = rebind.allowedBy(key);
      if (allowed !== null) return { stage: 'rebind', answers: false, text: `--rebind-allow ${allowed}: LAN addresses in its answers are passed on` };
      return { stage: 'rebind', answers: false, text: "rebind protection: private, loopback, link-local, ULA and unspecified addresses in the upstreams' answers are removed" };
    },
  };
}
