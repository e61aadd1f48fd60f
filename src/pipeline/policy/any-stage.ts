// RFC 8482: a query for ANY over UDP gets one small synthesised record, so Holdfast cannot be
// used to amplify a spoofed-source flood. Over TCP (no spoofing) ANY is passed on as usual.

import { RRType } from '../../core/wire/header.ts';
import { Source, type PassesOn, type Stage } from '../../core/answer.ts';

/** Every query but ANY over UDP goes on down the chain. */
export const anyPasses: PassesOn = (q, transport) => q.qtype !== RRType.ANY || transport !== 'udp';

export function createAnyStage(): Stage {
  return (req, next) => {
    if (anyPasses(req.query, req.client.transport)) return next(req);
    return { source: Source.synthetic, reason: 'RFC 8482 minimal ANY', rcode: 0, message: null, ageSeconds: 0, minimalAny: true };
  };
}
