// The block stage: a query for a name on a block list is answered here, never sent on. The
// lists arrive already read (src/services/block-lists reads files and fetches URLs, and swaps
// new ones in with setLists); this stage only looks names up and answers.

import { Source, type Answer, type PassesOn, type Stage } from '../../core/answer.ts';
import { Rcode } from '../../core/errors.ts';
import { HEADER_BYTES, RRClass, RRType, setU16, setU32 } from '../../core/wire/header.ts';
import type { StoredMessage } from '../../core/wire/message.ts';
import { nameToText, textToName } from '../../core/wire/names.ts';
import type { Query, QueryHeader } from '../../core/wire/query.ts';
import type { Explanation } from '../explain.ts';
import { createTopNames, type TopName } from './top-names.ts';
import { createNameLabels, createNameSetBuilder, EntryKind, readLabels, ruleText, type NameLabels, type NameSet } from './name-set.ts';

export const BlockAction = { null: 'null', nxdomain: 'nxdomain', refused: 'refused' } as const;
export type BlockAction = (typeof BlockAction)[keyof typeof BlockAction];

/**
 * How long a client may keep a blocked answer. Short, as Pi-hole's and AdGuard Home's are: a
 * name taken off a list, or allowed, works again within seconds.
 */
export const BLOCKED_TTL_SECONDS = 10;

/** The parser keeps no single-label name (it would block a whole top-level domain): never looked up. */
const MIN_LIST_LABELS = 2;

/**
 * Firefox asks for this name before it turns on its own DNS over HTTPS, and keeps to the
 * network's resolver when the answer is NXDOMAIN: without that, its built-in DoH would go around
 * every list (https://support.mozilla.org/kb/canary-domain-use-application-dnsnet).
 */
export const CANARY_NAME = 'use-application-dns.net';

/** One block list in force: its names, and how often it has answered. */
export interface BlockList {
  /** As the user gave it: the path or URL. */
  readonly label: string;
  readonly set: NameSet;
  /** Its `@@||name^` exceptions: they exempt names from every list. */
  readonly exceptions: readonly string[];
  /** Queries this list has blocked. */
  blocked: number;
}

export interface BlockStageOptions {
  readonly action: BlockAction;
  /** --allow-name: exempt, with every name under it. */
  readonly allowNames: readonly string[];
}

export interface BlockStage {
  readonly stage: Stage;
  /** False for every query the stage would answer: a blocked name, or Firefox's canary. */
  readonly passes: PassesOn;
  /** New options (SIGHUP): the action and the allowed names. */
  configure(options: BlockStageOptions): void;
  /** Puts these lists in force, in this order (the first that holds a name is named). */
  setLists(lists: readonly BlockList[]): void;
  readonly lists: readonly BlockList[];
  /** Whether and why this stage would answer for `name`; null when no list concerns it. */
  explain(name: string, qtype: number): Explanation | null;
  /** The names the lists blocked most often since the start ("ads.example."), most first. */
  topBlocked(limit: number): TopName[];
}

/** A list's names, ready for setLists. */
export function blockList(label: string, set: NameSet, exceptions: readonly string[]): BlockList {
  return { label, set, exceptions, blocked: 0 };
}

/** The answer a blocked A or AAAA query gets with action null: the unspecified address. */
function nullAddressReply(query: Query): StoredMessage {
  const dataBytes = query.qtype === RRType.A ? 4 : 16;
  const wire = new Uint8Array(query.questionEnd + 12 + dataBytes);
  wire.set(query.bytes.subarray(0, query.questionEnd));
  setU16(wire, 4, 1);
  setU16(wire, 6, 1);
  setU16(wire, 8, 0);
  setU16(wire, 10, 0);
  const p = query.questionEnd;
  setU16(wire, p, 0xc000 | HEADER_BYTES); // the question's name
  setU16(wire, p + 2, query.qtype);
  setU16(wire, p + 4, RRClass.IN);
  setU32(wire, p + 6, BLOCKED_TTL_SECONDS);
  setU16(wire, p + 10, dataBytes); // and all zeros: 0.0.0.0 or ::
  return { wire, ttls: [p + 6, BLOCKED_TTL_SECONDS], rcode: 0, ad: false, answerCount: 1, minAnswerTtl: BLOCKED_TTL_SECONDS, negativeTtl: -1 };
}

function blockedAnswer(query: Query, action: BlockAction, reason: string): Answer {
  if (action === BlockAction.nxdomain) return { source: Source.blocked, reason, rcode: Rcode.NXDOMAIN, message: null, ageSeconds: 0 };
  if (action === BlockAction.refused) return { source: Source.blocked, reason, rcode: Rcode.REFUSED, message: null, ageSeconds: 0 };
  const address = (query.qtype === RRType.A || query.qtype === RRType.AAAA) && query.qclass === RRClass.IN;
  // Other types: NOERROR with no answer, so the client stops asking about the name.
  return { source: Source.blocked, reason, rcode: Rcode.NOERROR, message: address ? nullAddressReply(query) : null, ageSeconds: 0 };
}

/** "list: rule (line N)" */
function describe(list: BlockList, record: number): string {
  const line = list.set.lineAt(record);
  return `${list.label}: ${ruleText(list.set.kindAt(record), list.set.nameAt(record))}${line > 0 ? ` (line ${line})` : ''}`;
}

function allowSet(allowNames: readonly string[], lists: readonly BlockList[]) {
  const b = createNameSetBuilder();
  for (const name of allowNames) b.addText(name, EntryKind.allowName, 0);
  for (const l of lists) for (const name of l.exceptions) b.addText(name, EntryKind.exception, 0);
  return b.build();
}

export function createBlockStage(initial: BlockStageOptions): BlockStage {
  let options = initial;
  let lists: readonly BlockList[] = [];
  let allow = allowSet(options.allowNames, lists);
  const canary = textToName(CANARY_NAME);
  // One per stage, reused by every query: the stage runs to completion without awaiting.
  const labels: NameLabels = createNameLabels();
  // Bounded (space-saving): a flood of random names cannot grow it.
  const topBlocked = createTopNames();

  const isCanary = (q: QueryHeader) => {
    if (q.nameEnd - HEADER_BYTES !== canary.length) return false;
    for (let i = 0; i < canary.length; i++) {
      let c = q.bytes[HEADER_BYTES + i];
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== canary[i]) return false;
    }
    return true;
  };

  /** The list and record blocking the name read into `labels`, or null. */
  const lookup = (l: NameLabels): [BlockList, number] | null => {
    if (allow.size > 0 && allow.find(l) >= 0) return null;
    for (let i = 0; i < lists.length; i++) {
      const r = lists[i].set.find(l, MIN_LIST_LABELS);
      if (r >= 0) return [lists[i], r];
    }
    return null;
  };

  return {
    get lists() {
      return lists;
    },
    topBlocked: (limit) => topBlocked.top(limit),
    // The stage's own tests, in its order, up to the answer it would make.
    passes: (q) => lists.length === 0 || (!isCanary(q) && (!readLabels(q.bytes, HEADER_BYTES, labels) || lookup(labels) === null)),
    configure(next) {
      options = next;
      allow = allowSet(options.allowNames, lists);
    },
    setLists(next) {
      allow = allowSet(options.allowNames, next);
      lists = next;
    },
    stage(req, next) {
      if (lists.length === 0) return next(req);
      const q = req.query;
      if (isCanary(q)) return { source: Source.blocked, reason: `${CANARY_NAME}: Firefox's canary, so its own DoH stays off`, rcode: Rcode.NXDOMAIN, message: null, ageSeconds: 0 };
      if (!readLabels(q.bytes, HEADER_BYTES, labels)) return next(req);
      const hit = lookup(labels);
      if (hit === null) return next(req);
      hit[0].blocked++;
      topBlocked.add(nameToText(q.bytes, HEADER_BYTES).toLowerCase());
      return blockedAnswer(q, options.action, describe(hit[0], hit[1]));
    },
    explain(name) {
      if (lists.length === 0) return null;
      const said = (answers: boolean, text: string): Explanation => ({ stage: 'block', answers, text });
      let wire: Uint8Array;
      try {
        wire = textToName(name.toLowerCase());
      } catch {
        return null;
      }
      if (wire.length === canary.length && wire.every((c, i) => c === canary[i])) return said(true, "NXDOMAIN: Firefox's canary, so its own DoH stays off while block lists are set");
      const l = createNameLabels();
      if (!readLabels(wire, 0, l)) return null;
      const allowed = allow.find(l);
      if (allowed >= 0) {
        const how = allow.kindAt(allowed) === EntryKind.allowName ? `--allow-name ${allow.nameAt(allowed)}` : `the exception ${ruleText(EntryKind.exception, allow.nameAt(allowed))}`;
        // Which list would have blocked it, so the user sees what the exemption does.
        for (const list of lists) {
          const r = list.set.find(l);
          if (r >= 0) return said(false, `allowed by ${how}, though ${describe(list, r)} would block it`);
        }
        return null;
      }
      const hit = lookup(l);
      if (hit === null) return null;
      return said(true, `blocked (${actionText(options.action)}) by ${describe(hit[0], hit[1])}`);
    },
  };
}

function actionText(action: BlockAction): string {
  return action === BlockAction.null ? 'A 0.0.0.0, AAAA ::, other types no data' : action === BlockAction.nxdomain ? 'NXDOMAIN' : 'REFUSED';
}
