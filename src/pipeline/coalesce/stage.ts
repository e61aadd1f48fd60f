// Identical misses in flight at once share one upstream exchange: a popular name that just
// expired costs one upstream query, not one per client that asked (a "thundering herd").

import type { Counters } from '../../core/counters.ts';
import type { Answer, Stage } from '../../core/answer.ts';

export function createCoalesceStage(counters: Counters): { stage: Stage; inFlight: () => number } {
  const inFlight = new Map<string, Promise<Answer>>();
  const stage: Stage = (req, next) => {
    const key = req.query.key;
    const pending = inFlight.get(key);
    if (pending) {
      counters.coalesced++;
      return pending.then((a) => ({ ...a, shared: true }));
    }
    const mine = Promise.resolve(next(req));
    inFlight.set(key, mine);
    const clear = () => {
      if (inFlight.get(key) === mine) inFlight.delete(key);
    };
    mine.then(clear, clear);
    return mine;
  };
  return { stage, inFlight: () => inFlight.size };
}
