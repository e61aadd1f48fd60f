// --rewrite FROM=TO: a name (or every name under a domain, "*.domain") answered as something
// else. TO an address: A or AAAA with it, and no data for the other family and other types.
// TO a name: a CNAME FROM → TO, then TO's answer as the rest of the pipeline has it, the whole
// chain returned (RFC 1034 §4.3.2), as for a local CNAME.

import { Source, type Answer, type Next, type PassesOn, type Request, type Stage } from '../../core/answer.ts';
import { ErrorCode, HoldfastError, Rcode } from '../../core/errors.ts';
import { HEADER_BYTES, RRClass, RRType } from '../../core/wire/header.ts';
import type { Explanation } from '../explain.ts';
import { ancestorsOf, keyToText, keyToWire, nameKeyOf, parseIp, type ParsedAddress } from '../local/names.ts';
import { buildStored, queryFor, recordsOf, type WireRecord } from '../local/wire.ts';
import { createNameFilter, type NameFilter } from '../local/name-filter.ts';

export interface RewriteRule {
  /** As given ("*.ads.example=0.0.0.0"), for the answer's reason. */
  readonly text: string;
  /** The name, or for "*.domain" the domain (whose names under it match, not itself). */
  readonly key: string;
  readonly wildcard: boolean;
  readonly address: ParsedAddress | null;
  /** The CNAME target's key when TO is a name. */
  readonly target: string | null;
}

/** One --rewrite value; a bad one is a configuration error that names it. */
export function parseRewrite(text: string): RewriteRule {
  const fail = (why: string) => new HoldfastError(ErrorCode.config, `--rewrite: "${text}" ${why}`);
  const eq = text.indexOf('=');
  if (eq <= 0) throw fail('is not FROM=TO (such as nas.example.com=192.168.1.10 or *.cdn.example=cdn.example.net)');
  let from = text.slice(0, eq).trim();
  const to = text.slice(eq + 1).trim();
  const wildcard = from.startsWith('*.');
  if (wildcard) from = from.slice(2);
  const key = nameKeyOf(from);
  if (key === null) throw fail(`: "${text.slice(0, eq).trim()}" is neither a name nor *.domain`);
  const address = parseIp(to);
  if (address !== null) return { text, key, wildcard, address, target: null };
  const target = nameKeyOf(to);
  if (target === null) throw fail(`: "${to}" is neither an IP address nor a name`);
  if (target === key) throw fail(': a name rewritten to itself');
  return { text, key, wildcard, address: null, target };
}

export interface RewriteOptions {
  readonly rules: readonly string[];
  /** The TTL of the answers made here (--local-ttl, as for local data). */
  readonly ttlSeconds: number;
}

export interface RewriteStage {
  readonly stage: Stage;
  /** False for every query a rule might answer. */
  readonly passes: PassesOn;
  /** The rules and TTL of `options` in force at once (SIGHUP); throws, changing nothing, on a bad rule. */
  configure(options: RewriteOptions): void;
  explain(name: string, qtype: number): Explanation | null;
}

interface Compiled {
  readonly exact: ReadonlyMap<string, RewriteRule>;
  readonly wildcards: ReadonlyMap<string, RewriteRule>;
  readonly ttlSeconds: number;
  readonly ruled: NameFilter;
}

function compile(options: RewriteOptions): Compiled {
  const exact = new Map<string, RewriteRule>();
  const wildcards = new Map<string, RewriteRule>();
  for (const text of options.rules) {
    const r = parseRewrite(text);
    const map = r.wildcard ? wildcards : exact;
    // The first rule for a name wins, as with every list read in order.
    if (!map.has(r.key)) map.set(r.key, r);
  }
  return { exact, wildcards, ttlSeconds: options.ttlSeconds, ruled: createNameFilter(exact.keys(), wildcards.keys()) };
}

/** The rule for a name key: its own, else the longest "*.domain" above it. */
function ruleFor(c: Compiled, key: string): RewriteRule | null {
  const own = c.exact.get(key);
  if (own !== undefined) return own;
  if (c.wildcards.size === 0) return null;
  for (const a of ancestorsOf(key)) {
    const r = c.wildcards.get(a);
    if (r !== undefined) return r;
  }
  return null;
}

const answerOf = (req: Request, rcode: number, records: WireRecord[], authority: WireRecord[], reason: string): Answer => ({
  source: Source.rewrite,
  reason,
  rcode,
  message: buildStored(req.query, rcode, records, authority),
  ageSeconds: 0,
});

export function createRewriteStage(initial: RewriteOptions): RewriteStage {
  let c = compile(initial);

  async function follow(req: Request, next: Next, rule: RewriteRule, cname: WireRecord): Promise<Answer> {
    const sub = await next({ query: queryFor(rule.target!, req.query), client: req.client, background: req.background });
    const reason = `${rule.text} (${sub.source}: ${sub.reason})`;
    if (sub.message === null) return answerOf(req, sub.rcode, [cname], [], reason);
    const { answer, authority } = recordsOf(sub.message, sub.ageSeconds, sub.ttlOverrideSeconds ?? -1);
    // RFC 2308 §2.1: a negative answer keeps its SOA, so the client can cache it.
    return answerOf(req, sub.rcode, [cname, ...answer], answer.length === 0 ? authority.filter((r) => r.type === RRType.SOA) : [], reason);
  }

  const stage: Stage = (req, next) => {
    const q = req.query;
    if (q.qclass !== RRClass.IN || (c.exact.size === 0 && c.wildcards.size === 0)) return next(req);
    const key = q.nameKey;
    const rule = ruleFor(c, key);
    if (rule === null) return next(req);
    const owner = q.bytes.slice(12, q.nameEnd);
    if (rule.address !== null) {
      const type = rule.address.family === 4 ? RRType.A : RRType.AAAA;
      const records = q.qtype === type || q.qtype === RRType.ANY ? [{ owner, type, ttlSeconds: c.ttlSeconds, rdata: rule.address.bytes }] : [];
      return answerOf(req, Rcode.NOERROR, records, [], `${rule.text}${records.length === 0 ? ' (no data of this type)' : ''}`);
    }
    const cname: WireRecord = { owner, type: RRType.CNAME, ttlSeconds: c.ttlSeconds, rdata: keyToWire(rule.target!) };
    if (q.qtype === RRType.CNAME) return answerOf(req, Rcode.NOERROR, [cname], [], rule.text);
    return follow(req, next, rule, cname);
  };

  return {
    stage,
    passes: (q) => q.qclass !== RRClass.IN || !c.ruled.mayHold(q.bytes, HEADER_BYTES, q.nameEnd),
    configure(options) {
      c = compile(options);
    },
    explain(name) {
      const key = nameKeyOf(name);
      const rule = key === null ? null : ruleFor(c, key);
      if (rule === null) return null;
      const what = rule.address !== null ? `answered with that address (the other family and other types: no data)` : `answered as a CNAME to ${keyToText(rule.target!)}, then that name's answer`;
      return { stage: 'rewrite', answers: true, text: `--rewrite ${rule.text}: ${what}` };
    },
  };
}
