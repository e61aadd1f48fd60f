// The first stage: names the LAN owns are answered here and never leave it. Local data (hosts
// files, DHCP leases, records) answers its names; names under --local-domain and the private
// reverse zones (RFC 6303) that local data does not hold get NXDOMAIN; everything else goes on
// down the chain. A CNAME is followed: through local data while it can, then through the rest
// of the pipeline, and the client gets the whole chain.

import { Source, type Answer, type Next, type PassesOn, type Request, type Stage } from '../../core/answer.ts';
import type { Clock } from '../../core/ports.ts';
import { HEADER_BYTES, RRClass, RRType } from '../../core/wire/header.ts';
import { Rcode } from '../../core/errors.ts';
import { isAtOrUnder, keyToText, keyToWire, nameKeyOf } from './names.ts';
import { createNameFilter, type NameFilter } from './name-filter.ts';
import { IN_ADDR_ARPA, IP6_ARPA, PRIVATE_REVERSE_KEYS } from './private-zones.ts';
import { RecordType } from './records.ts';
import { recordsAt, type LocalTable, type TableRecord } from './table.ts';
import { buildStored, queryFor, recordsOf, soaRecord, type WireRecord } from './wire.ts';
import type { Explanation } from '../explain.ts';

export interface LocalStageOptions {
  readonly table: LocalTable;
  /** --local-domain ("lan"); null: none. */
  readonly domain: string | null;
  /** The TTL of local answers without one of their own (--local-ttl). */
  readonly ttlSeconds: number;
  /**
   * Zones another stage answers (forward zones): a private reverse zone at or under one of them
   * is left to it. Default none.
   */
  readonly exemptZones?: readonly string[];
}

export interface LocalStage {
  readonly stage: Stage;
  /** False for every query the stage might answer: a name of local data, or in a zone of ours. */
  readonly passes: PassesOn;
  /** Puts new data or settings in force at once (a file changed, SIGHUP). */
  replace(options: LocalStageOptions): void;
  readonly options: LocalStageOptions;
  /** What local data would answer for `name`, and from where (holdfast explain); null: not ours. */
  explain(name: string, qtype: number): Explanation | null;
}

/** How many CNAMEs in a row local data may chain before the answer is SERVFAIL (a loop). */
const MAX_CHAIN = 8;

interface Zone {
  readonly key: string;
  readonly kind: 'local-domain' | 'private-reverse';
}

interface Compiled {
  readonly options: LocalStageOptions;
  readonly table: LocalTable;
  readonly domainKey: string | null;
  readonly reverseZones: readonly string[];
  /** Every name the table holds, and the zones whose names are ours (the reverse ones all). */
  readonly ours: NameFilter;
}

function compile(options: LocalStageOptions): Compiled {
  const exempt = (options.exemptZones ?? []).map((z) => nameKeyOf(z)).filter((k): k is string => k !== null);
  const domainKey = options.domain === null ? null : nameKeyOf(options.domain);
  return {
    options,
    table: options.table,
    domainKey,
    // A forward zone for 168.192.in-addr.arpa, or for one /24 inside it, takes those names.
    reverseZones: PRIVATE_REVERSE_KEYS.filter((z) => !exempt.some((e) => isAtOrUnder(z, e) || isAtOrUnder(e, z))),
    // Lease ends are left out: a name counts as ours while the table holds it at all.
    ours: createNameFilter(options.table.names.keys(), [...(domainKey === null ? [] : [domainKey]), IN_ADDR_ARPA, IP6_ARPA]),
  };
}

function zoneOf(c: Compiled, key: string): Zone | null {
  if (c.domainKey !== null && isAtOrUnder(key, c.domainKey)) return { key: c.domainKey, kind: 'local-domain' };
  if (isAtOrUnder(key, IN_ADDR_ARPA) || isAtOrUnder(key, IP6_ARPA)) {
    for (const z of c.reverseZones) if (isAtOrUnder(key, z)) return { key: z, kind: 'private-reverse' };
  }
  return null;
}

function ttlOf(r: TableRecord, c: Compiled, nowMs: number): number {
  const ttl = r.ttlSeconds ?? c.options.ttlSeconds;
  // A lease's name is not promised past the lease.
  return r.expiresAtMs === null ? ttl : Math.max(0, Math.min(ttl, Math.floor((r.expiresAtMs - nowMs) / 1000)));
}

function wireOf(r: TableRecord, c: Compiled, nowMs: number): WireRecord {
  return { owner: keyToWire(r.owner), type: r.type, ttlSeconds: ttlOf(r, c, nowMs), rdata: r.rdata };
}

function answerOf(req: Request, rcode: number, answer: WireRecord[], authority: WireRecord[], reason: string): Answer {
  return { source: Source.local, reason, rcode, message: buildStored(req.query, rcode, answer, authority), ageSeconds: 0 };
}

export function createLocalStage(initial: LocalStageOptions, clock: Pick<Clock, 'now'>): LocalStage {
  let c = compile(initial);

  /** No data of this type (or no such name) in a zone we answer for: with its SOA (RFC 2308 §3). */
  const negative = (req: Request, rcode: number, chain: WireRecord[], soaOwner: string, reason: string) =>
    answerOf(req, rcode, chain, [soaRecord(keyToWire(soaOwner), c.options.ttlSeconds)], reason);

  /** The answer for `key`, which local data holds, following CNAMEs. */
  function fromData(req: Request, next: Next, key: string, records: readonly TableRecord[]): Answer | Promise<Answer> {
    const qtype = req.query.qtype;
    const now = clock.now();
    const chain: WireRecord[] = [];
    const origin = records[0].origin;
    let name = key;
    let here: readonly TableRecord[] | null = records;
    for (let hops = 0; hops <= MAX_CHAIN; hops++) {
      if (here === null) {
        // The CNAME's target is not local data: NXDOMAIN in a zone of ours, else the pipeline's.
        const zone = zoneOf(c, name);
        if (zone !== null) {
          const rcode = c.table.ancestors.has(name) || name === zone.key ? Rcode.NOERROR : Rcode.NXDOMAIN;
          return negative(req, rcode, chain, zone.key, `${origin}, CNAME to ${keyToText(name)}: ${zone.kind} ${rcode === Rcode.NXDOMAIN ? 'nxdomain' : 'nodata'}`);
        }
        return followOut(req, next, chain, name, origin);
      }
      const cname = here.find((r) => r.type === RecordType.CNAME);
      const matching = qtype === RRType.ANY ? here : here.filter((r) => r.type === qtype);
      if (matching.length > 0) {
        for (const r of matching) chain.push(wireOf(r, c, now));
        return answerOf(req, Rcode.NOERROR, chain, [], hops === 0 ? origin : `${origin}, CNAME to ${keyToText(name)} (${matching[0].origin})`);
      }
      if (!cname) {
        // RFC 2308 §2.2: the name exists, the type does not (NODATA).
        const zone = zoneOf(c, name);
        return negative(req, Rcode.NOERROR, chain, zone?.key ?? name, `${origin}, no ${qtype === RRType.AAAA ? 'AAAA' : qtype === RRType.A ? 'A' : `type ${qtype}`} data`);
      }
      chain.push(wireOf(cname, c, now));
      name = cname.target!;
      here = recordsAt(c.table, name, now);
    }
    return answerOf(req, Rcode.SERVFAIL, chain, [], `${origin}: CNAME chain longer than ${MAX_CHAIN}`);
  }

  /** RFC 1034 §4.3.2 step 3a: the CNAME, then the target's answer as the rest of the pipeline has it. */
  async function followOut(req: Request, next: Next, chain: WireRecord[], target: string, origin: string): Promise<Answer> {
    const sub = await next({ query: queryFor(target, req.query), client: req.client, background: req.background });
    const reason = `${origin}, CNAME to ${keyToText(target)} (${sub.source}: ${sub.reason})`;
    if (sub.message === null) return answerOf(req, sub.rcode, chain, [], reason);
    const { answer, authority } = recordsOf(sub.message, sub.ageSeconds, sub.ttlOverrideSeconds ?? -1);
    // RFC 2308 §2.1: a negative answer keeps its SOA, so the client can cache it.
    return answerOf(req, sub.rcode, [...chain, ...answer], answer.length === 0 ? authority.filter((r) => r.type === RRType.SOA) : [], reason);
  }

  const stage: Stage = (req, next) => {
    const q = req.query;
    if (q.qclass !== RRClass.IN) return next(req);
    const key = q.nameKey;
    const records = recordsAt(c.table, key, clock.now());
    if (records !== null) return fromData(req, next, key, records);
    const zone = zoneOf(c, key);
    if (zone === null) return next(req);
    if (key === zone.key && q.qtype === RRType.SOA) {
      return answerOf(req, Rcode.NOERROR, [soaRecord(keyToWire(zone.key), c.options.ttlSeconds)], [], `${zone.kind} soa`);
    }
    // A name with names under it exists (RFC 8020: NXDOMAIN would deny them all).
    if (key === zone.key || c.table.ancestors.has(key)) return negative(req, Rcode.NOERROR, [], zone.key, `${zone.kind} nodata`);
    return negative(req, Rcode.NXDOMAIN, [], zone.key, `${zone.kind} nxdomain`);
  };

  return {
    stage,
    passes: (q) => q.qclass !== RRClass.IN || !c.ours.mayHold(q.bytes, HEADER_BYTES, q.nameEnd),
    replace(options) {
      c = compile(options);
    },
    get options() {
      return c.options;
    },
    explain(name) {
      const key = nameKeyOf(name);
      if (key === null) return null;
      const records = recordsAt(c.table, key, clock.now());
      if (records !== null) {
        const from = [...new Set(records.map((r) => r.origin))].join('; ');
        const cname = records.find((r) => r.type === RecordType.CNAME);
        return { stage: 'local', answers: true, text: `local data: ${from}${cname ? `: CNAME to ${keyToText(cname.target!)}, followed` : ''}` };
      }
      const zone = zoneOf(c, key);
      if (zone === null) return null;
      const exists = key === zone.key || c.table.ancestors.has(key);
      const what = zone.kind === 'local-domain' ? `under the local domain ${keyToText(zone.key)}` : `in the private reverse zone ${keyToText(zone.key)} (RFC 6303)`;
      return { stage: 'local', answers: true, text: `${what}, not in local data: ${exists ? 'NOERROR with no data (names exist under it)' : 'NXDOMAIN'}, never forwarded` };
    },
  };
}
