// Fuzzing the decoder and the whole query path with a seeded PRNG: pure random bytes, and
// valid queries and replies (built with dns-packet or byte by byte) broken in the ways
// attackers and broken middleboxes break them. Deterministic: a failure names the seed and the
// case number, and prints the input in hex for a regression test.
//   HOLDFAST_FUZZ_SEED=0x1234 HOLDFAST_FUZZ_SCALE=5 node build/test.mjs node -- test/core/fuzz
// runs another seed, five times as many cases.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { setImmediate } from 'node:timers';
import { createCounters } from '../../src/core/counters.ts';
import { DEFAULT_CONFIG } from '../../src/config/config.ts';
import { createHandle } from '../../src/core/handle.ts';
import type { CorePorts } from '../../src/core/ports.ts';
import { endOfName, endOfPlainName } from '../../src/core/wire/names.ts';
import { scanMessage, toStored } from '../../src/core/wire/message.ts';
import { parseQuery, QueryProblem, type Query } from '../../src/core/wire/query.ts';
import { renderStored, replyLimit } from '../../src/core/wire/reply.ts';
import { createPipeline } from '../../src/pipeline/chain.ts';
import { replyMatches } from '../../src/upstreams/reply-match.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';
import { createFakeNet, type Responder } from '../helpers/fake-net.ts';
import { fromHex, hex, mutate } from '../helpers/mutate.ts';
import { dnsPacket, query as packetQuery } from '../helpers/packets.ts';
import { createPrng, type Prng } from '../helpers/prng.ts';
import { concat, header, name as wireName, opt, rr, soaRdata, u16be } from '../helpers/wire-build.ts';

const SEED = process.env.HOLDFAST_FUZZ_SEED ? Number(process.env.HOLDFAST_FUZZ_SEED) >>> 0 : 0x5eed2026;
const SCALE = Number(process.env.HOLDFAST_FUZZ_SCALE ?? 1);
const RANDOM_CASES = Math.round(20_000 * SCALE);
const MUTATED_CASES = Math.round(20_000 * SCALE);
const PIPELINE_CASES = Math.round(10_000 * SCALE);
const SEED_TEXT = `0x${SEED.toString(16)}`;

// The names come from small sets: encode each once.
const nameCache = new Map<string, number[]>();
function name(text: string): number[] {
  let n = nameCache.get(text);
  if (!n) nameCache.set(text, (n = wireName(text)));
  return n;
}

// dns-packet's own question decoder, which its type definitions leave out.
const dpQuestion = (dnsPacket as unknown as { question: { decode(b: Buffer, at: number): { name: string; type: string; class: string } } }).question;
const questionDecodeBytes = () => (dpQuestion.decode as unknown as { bytes: number }).bytes;
const decodeBytes = () => (dnsPacket.decode as unknown as { bytes: number }).bytes;

interface DpRecord {
  type: string;
  udpPayloadSize?: number;
  ednsVersion?: number;
  flag_do?: boolean;
}
interface DpMessage {
  id: number;
  questions: Array<{ name: string; type: string; class: string }>;
  answers: DpRecord[];
  authorities: DpRecord[];
  additionals: DpRecord[];
}

/** dns-packet's reading of a whole message, or null when it throws. */
function dpDecode(b: Uint8Array): DpMessage | null {
  try {
    return dnsPacket.decode(Buffer.from(b)) as unknown as DpMessage;
  } catch {
    return null;
  }
}

/** dns-packet's names for a type and class number. */
function dpTypeAndClass(qtype: number, qclass: number): { type: string; class: string } {
  const b = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, ...u16be(qtype), ...u16be(qclass)]);
  const q = (dnsPacket.decode(b) as unknown as DpMessage).questions[0];
  return { type: q.type, class: q.class };
}

/** How dns-packet spells the plain name at [start, end): labels read as UTF-8, joined by dots. */
function dpName(b: Uint8Array, start: number, end: number): string {
  const buf = Buffer.from(b);
  const labels: string[] = [];
  for (let p = start; p < end - 1; p += 1 + b[p]) labels.push(buf.toString('utf-8', p + 1, p + 1 + b[p]));
  return labels.length ? labels.join('.') : '.';
}

function failure(what: string, i: number, input: Uint8Array, detail: string, applied: string[] = []): string {
  return `${what}, seed ${SEED_TEXT} case ${i}${applied.length ? ` (${applied.join('+')})` : ''}: ${detail}\n  input ${hex(input)}`;
}

function flipCase(b: Uint8Array, start: number, end: number, rnd: Prng): Uint8Array {
  const out = b.slice();
  for (let i = start; i < end; i++) {
    const c = out[i] | 0x20;
    if (c >= 0x61 && c <= 0x7a && rnd.chance(0.5)) out[i] ^= 0x20;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Corpus: valid queries and replies to start mutating from.

const QUERY_NAMES = ['example.org', 'WWW.Example.ORG', 'a.b.c.d.e.f.example', '.', 'xn--bcher-kva.example', `${'x'.repeat(63)}.example`, '_sip._tcp.example.net'];
const QUERY_TYPES = ['A', 'AAAA', 'MX', 'TXT', 'ANY', 'SOA', 'NS', 'PTR', 'SRV'] as const;

function corpusQueries(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const n of QUERY_NAMES) {
    for (const t of QUERY_TYPES) {
      out.push(packetQuery(n, t, { id: 0x1234, edns: false }));
      out.push(packetQuery(n, t, { id: 0xbeef, edns: 1232, do: true, cd: true }));
    }
  }
  const q = [...name('a.example'), 0, 1, 0, 1];
  out.push(concat(header({ an: 1, ar: 1 }), q, rr([0xc0, 12], 1, 60, [192, 0, 2, 1]), opt(4096)));
  out.push(concat(header({ ar: 1 }), q, opt(1232, { version: 1, do: true })));
  out.push(concat(header({ ar: 2 }), q, opt(), opt()));
  out.push(concat(header({ ar: 1 }), q, [0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]));
  const longest = [...Array.from({ length: 3 }, () => [63, ...new Array<number>(63).fill(0x62)]).flat(), 61, ...new Array<number>(61).fill(0x63), 0];
  out.push(concat(header({ ar: 0 }), longest, [0, 1, 0, 1]));
  out.push(concat(header({ ar: 0 }), [3, 0x00, 0x2e, 0xff, 0], [0, 16, 0, 1]));
  return out;
}

const ttlOf = (rnd: Prng) => rnd.pick([0, 1, 30, 300, 86_400, 0x7fffffff, 0x80000000, 0xffffffff, rnd.int(100_000)]);

/**
 * A plausible reply to `q` (whose question must be a plain name): positive, CNAME chain,
 * NXDOMAIN, NODATA, SERVFAIL and friends, large, with OPT and glue, truncated, MX and TXT.
 */
function buildReply(q: Uint8Array, rnd: Prng, allowTc = true): Uint8Array {
  const nameEnd = endOfPlainName(q, 12);
  const qEnd = typeof nameEnd === 'number' && nameEnd + 4 <= q.length ? nameEnd + 4 : 12;
  const question = q.subarray(12, qEnd);
  const at = 12 + question.length; // where the first record starts
  const ptr = [0xc0, 12];
  const an: number[][] = [];
  const ns: number[][] = [];
  const ar: number[][] = [];
  let rcode = 0;
  let flags2 = 0x81;
  const kind = rnd.int(allowTc ? 10 : 9);
  const aRecord = (owner: number[]) => rr(owner, 1, ttlOf(rnd), [192, 0, 2, rnd.int(256)]);
  switch (kind) {
    case 0:
      for (let n = rnd.range(1, 5); n > 0; n--) an.push(aRecord(ptr));
      break;
    case 1: {
      const target = name('target.example');
      an.push(rr(ptr, 5, ttlOf(rnd), target));
      const rdataAt = at + 12; // pointer owner (2) + fixed fields (10) into the CNAME record
      an.push(aRecord([0xc0 | (rdataAt >> 8), rdataAt & 0xff]));
      break;
    }
    case 2:
      rcode = 3;
      ns.push(rr(name('example'), 6, ttlOf(rnd), soaRdata(rnd.pick([0, 60, 3600, 0x80000000]))));
      break;
    case 3:
      ns.push(rr(name('example'), 6, ttlOf(rnd), soaRdata(rnd.int(7200))));
      break;
    case 4:
      break;
    case 5:
      rcode = rnd.pick([1, 2, 4, 5]);
      break;
    case 6:
      for (let n = rnd.range(20, 70); n > 0; n--) an.push(aRecord(ptr));
      break;
    case 7:
      an.push(aRecord(ptr));
      ns.push(rr(name('example'), 2, ttlOf(rnd), name('ns1.example')));
      ar.push(aRecord(name('ns1.example')));
      ar.push(opt(rnd.pick([512, 1232, 4096]), { do: rnd.chance(0.5) }));
      if (rnd.chance(0.5)) ar.push(aRecord(name('ns2.example')));
      break;
    case 8:
      an.push(rr(ptr, 15, ttlOf(rnd), [0, 10, ...name('mail.example')]));
      an.push(rr(ptr, 16, ttlOf(rnd), [5, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0]));
      break;
    default:
      flags2 |= 0x02; // TC=1 with nothing in it: ask again over TCP
      break;
  }
  const flags3 = 0x80 | (rnd.chance(0.2) ? 0x20 : 0) | rcode;
  return concat(
    header({ id: (q[0] << 8) | q[1], flags2, flags3, qd: 1, an: an.length, ns: ns.length, ar: ar.length }),
    question,
    ...an,
    ...ns,
    ...ar,
  );
}

const dpAnswer = (dnsPacket as unknown as { answer: { decode(b: Buffer, at: number): unknown } }).answer;
const answerDecodeBytes = () => (dpAnswer.decode as unknown as { bytes: number }).bytes;

/**
 * A message that dns-packet splits into the same records as we do. Only then is comparing
 * the two fair: dns-packet reads an A record as 4 bytes whatever its RDLENGTH says, and reads
 * names in record data past the data's end, so on broken records it lands on another reading
 * of the rest of the message.
 */
function sameRecords(b: Uint8Array): boolean {
  const scan = scanMessage(b);
  if (typeof scan === 'string') return false;
  const ends: number[] = [];
  for (let k = 0; k < scan.ttls.length; k += 2) ends.push(scan.ttls[k] + 6 + ((b[scan.ttls[k] + 4] << 8) | b[scan.ttls[k] + 5]));
  if (scan.optAt !== -1) {
    const ownerEnd = endOfName(b, scan.optAt);
    if (typeof ownerEnd === 'string') return false;
    ends.push(ownerEnd + 10 + ((b[ownerEnd + 8] << 8) | b[ownerEnd + 9]));
  }
  ends.sort((x, y) => x - y);
  const buf = Buffer.from(b);
  let at = scan.questionEnd;
  for (const end of ends) {
    try {
      dpAnswer.decode(buf, at);
    } catch {
      return false;
    }
    at += answerDecodeBytes();
    if (at !== end) return false;
  }
  return at === scan.end;
}

/**
 * A stored message dns-packet reads as we do, and still reads once the bytes we rewrite when
 * serving it (ID, flags, TTLs) change. Names in record data we do not check (SRV, RRSIG...)
 * can point into those bytes; that garbage is passed on as it came.
 */
function fairBasis(wire: Uint8Array): boolean {
  if (!sameRecords(wire)) return false;
  const scan = scanMessage(wire);
  if (typeof scan === 'string') return false;
  const changed = wire.slice();
  for (let k = 0; k < 4; k++) changed[k] ^= 0xff;
  for (let k = 0; k < scan.ttls.length; k += 2) changed.fill(0xff, scan.ttls[k], scan.ttls[k] + 4);
  return dpDecode(changed) !== null;
}

// ---------------------------------------------------------------------------------------
// (a) parseQuery

function checkParse(bytes: Uint8Array, i: number, rnd: Prng, applied: string[] = []): void {
  let r;
  try {
    r = parseQuery(bytes);
  } catch (e) {
    assert.fail(failure('parseQuery threw', i, bytes, String(e), applied));
  }
  if (!r.ok) {
    if (r.problem === QueryProblem.badVersion) assert.ok(r.query, failure('BADVERS without the query', i, bytes, '', applied));
    return;
  }
  const q = r.query;
  const fail = (detail: string) => assert.fail(failure('parseQuery disagrees with dns-packet', i, bytes, detail, applied));
  if (q.nameEnd - 12 > 255 || q.questionEnd !== q.nameEnd + 4 || q.questionEnd > bytes.length) fail(`bad bounds ${q.nameEnd}/${q.questionEnd}`);
  let dq;
  try {
    dq = dpQuestion.decode(Buffer.from(bytes), 12);
  } catch (e) {
    return fail(`dns-packet cannot read the question we accepted: ${String(e)}`);
  }
  if (questionDecodeBytes() !== q.questionEnd - 12) fail(`question length ${questionDecodeBytes()} vs ${q.questionEnd - 12}`);
  if (dq.name !== dpName(bytes, 12, q.nameEnd)) fail(`name ${JSON.stringify(dq.name)} vs ${JSON.stringify(dpName(bytes, 12, q.nameEnd))}`);
  const tc = dpTypeAndClass(q.qtype, q.qclass);
  if (dq.type !== tc.type || dq.class !== tc.class) fail(`type/class ${dq.type}/${dq.class} vs ${tc.type}/${tc.class}`);
  // The cache key ignores letter case (RFC 4343).
  const flipped = parseQuery(flipCase(bytes, 12, q.nameEnd, rnd));
  if (!flipped.ok || flipped.query.key !== q.key) fail('a case-flipped copy keys differently');
  // EDNS, where dns-packet reads the same records we do.
  const whole = sameRecords(bytes) ? dpDecode(bytes) : null;
  if (whole) {
    const opts = [...whole.answers, ...whole.authorities, ...whole.additionals].filter((x) => x.type === 'OPT');
    if ((opts.length === 1) !== (q.edns !== null)) fail(`${opts.length} OPT records for dns-packet, edns ${JSON.stringify(q.edns)} for us`);
    if (q.edns && opts.length === 1) {
      const o = opts[0];
      if (Math.max(512, o.udpPayloadSize ?? -1) !== q.edns.udpSize || o.ednsVersion !== q.edns.version || !!o.flag_do !== q.edns.do) {
        fail(`OPT ${JSON.stringify(o)} vs ${JSON.stringify(q.edns)}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// (b) scanMessage, toStored, renderStored

function checkStoreAndRender(reply: Uint8Array, i: number, rnd: Prng, applied: string[] = []): void {
  const fail = (detail: string) => assert.fail(failure('reply path', i, reply, detail, applied));
  let scan;
  try {
    scan = scanMessage(reply);
  } catch (e) {
    return fail(`scanMessage threw: ${String(e)}`);
  }
  if (typeof scan === 'string') return;
  if (scan.end > reply.length || scan.questionEnd > scan.end) fail(`end ${scan.end}, question end ${scan.questionEnd}`);
  const maxTtl = rnd.pick([60, 3600, 86_400, 604_800]);
  let stored;
  try {
    stored = toStored(reply, scan, maxTtl);
  } catch (e) {
    return fail(`toStored threw: ${String(e)}`);
  }
  // What the cache keeps must itself be a well-formed message without OPT.
  const again = scanMessage(stored.wire);
  if (typeof again === 'string') return fail(`stored form does not scan: ${again}`);
  if (again.optAt !== -1) fail('stored form kept an OPT');
  if (again.end !== stored.wire.length) fail('stored form has trailing bytes');
  if (again.ttls.filter((_, k) => k % 2 === 0).join() !== [...stored.ttls].filter((_, k) => k % 2 === 0).join()) fail('TTL offsets moved');
  for (let k = 1; k < stored.ttls.length; k += 2) if (stored.ttls[k] > maxTtl) fail(`TTL ${stored.ttls[k]} over ${maxTtl}`);

  // A client query for the reply's question, in another letter case, with or without EDNS.
  const edns = rnd.chance(0.6) ? opt(rnd.pick([0, 512, 1000, 1232, 4096, 65535]), { do: rnd.chance(0.5) }) : [];
  const id = rnd.int(0x10000);
  const qBytes = concat(
    header({ id, flags2: rnd.chance(0.8) ? 1 : 0, flags3: (rnd.chance(0.3) ? 0x20 : 0) | (rnd.chance(0.3) ? 0x10 : 0), ar: edns.length ? 1 : 0 }),
    flipCase(reply.subarray(12, scan.questionEnd), 0, scan.nameEnd - 12, rnd),
    edns,
  );
  const parsed = parseQuery(qBytes);
  if (!parsed.ok) return fail(`a query for the reply's question does not parse: ${parsed.problem}`);
  const q = parsed.query;
  const limit = replyLimit(q, rnd.chance(0.7) ? 'udp' : 'tcp');
  const age = rnd.pick([-100, 0, 1, 29, 300, 100_000]);
  let out: Uint8Array;
  try {
    out = renderStored(stored, q, age, limit);
  } catch (e) {
    return fail(`renderStored threw: ${String(e)}`);
  }
  checkReplyShape(out, q, limit, (d) => fail(d));
  const truncated = (out[2] & 0x02) !== 0;
  if (!truncated) {
    const outScan = scanMessage(out) as Exclude<ReturnType<typeof scanMessage>, string>;
    for (let k = 0; k < stored.ttls.length; k += 2) {
      const want = Math.max(0, stored.ttls[k + 1] - Math.max(0, age));
      const got = ((out[stored.ttls[k]] << 24) >>> 0) + ((out[stored.ttls[k] + 1] << 16) | (out[stored.ttls[k] + 2] << 8) | out[stored.ttls[k] + 3]);
      if (got !== want) fail(`TTL ${got} served, ${want} expected`);
    }
    if (outScan.ttls.length !== stored.ttls.length) fail('records lost in rendering');
  }
  // Record data is passed on as it came (only names in RFC 1035 types are checked), so the
  // fair claim is: whatever dns-packet reads in what we keep, it reads in what we send.
  if (!dpDecode(out) && fairBasis(stored.wire)) fail(`dns-packet reads the stored reply but not ours: ${hex(out)}`);
}

/** What every reply to a parsed query must be, whatever the stored message held. */
function checkReplyShape(out: Uint8Array, q: Query, limit: number, fail: (detail: string) => void): void {
  if (out.length > limit) fail(`${out.length} bytes over the limit ${limit}`);
  if (out[0] !== q.bytes[0] || out[1] !== q.bytes[1]) fail('ID not echoed');
  if ((out[2] & 0x80) === 0) fail('QR not set');
  for (let k = 12; k < q.questionEnd; k++) if (out[k] !== q.bytes[k]) return fail(`question not echoed exactly: ${hex(out)}`);
  const scan = scanMessage(out);
  if (typeof scan === 'string') return fail(`our reply does not scan (${scan}): ${hex(out)}`);
  if ((scan.optAt !== -1) !== (q.edns !== null)) fail(`OPT ${scan.optAt !== -1 ? 'sent' : 'missing'} for a client ${q.edns ? 'with' : 'without'} EDNS`);
  if (scan.optAt !== -1 && scan.optAt + 11 !== out.length) fail('our OPT is not the last record');
  try {
    dpQuestion.decode(Buffer.from(out), 12);
  } catch (e) {
    fail(`dns-packet cannot read our question: ${String(e)}`);
  }
}

// ---------------------------------------------------------------------------------------
// (c) handle() over an upstream that sends broken replies

interface PipelineRun {
  handle: ReturnType<typeof createHandle>;
  time: ReturnType<typeof createFakeTime>;
  /** Replies the upstreams sent that could be used, by lower-case name and type. */
  accepted: Map<string, Uint8Array[]>;
}

function questionKey(b: Uint8Array, nameEnd: number): string {
  let s = '';
  for (let k = 12; k < nameEnd + 2; k++) s += String.fromCharCode(b[k] >= 0x41 && b[k] <= 0x5a ? b[k] | 0x20 : b[k]);
  return s;
}

function createRun(rnd: Prng): PipelineRun {
  const time = createFakeTime();
  const accepted = new Map<string, Uint8Array[]>();
  const respond =
    (transport: 'udp' | 'tcp'): Responder =>
    (q, send) => {
      if (rnd.chance(0.05)) return; // silence: a timeout
      let r = buildReply(q, rnd, transport === 'udp');
      if (rnd.chance(0.5)) r = mutate(r, rnd).bytes;
      if (rnd.chance(0.1)) send(rnd.bytes(rnd.int(60)));
      const nameEnd = endOfPlainName(q, 12);
      if (typeof nameEnd === 'number' && replyMatches(r, q)) {
        const key = questionKey(q, nameEnd);
        accepted.set(key, [...(accepted.get(key) ?? []), r]);
      }
      send(r);
    };
  const fake = createFakeNet({
    '192.0.2.1:53': { udp: respond('udp'), tcp: respond('tcp') },
    '192.0.2.2:53': { udp: respond('udp'), tcp: respond('tcp') },
  });
  const ports: CorePorts = { clock: time, timers: time, entropy: { random: () => rnd.next(), id16: () => rnd.int(0x10000) }, net: fake.net };
  const counters = createCounters();
  // Short timeouts: fake time is free, but each step of it costs the test a macrotask.
  const config = {
    ...DEFAULT_CONFIG,
    upstreams: ['udp://192.0.2.1', 'udp://192.0.2.2'],
    cache: { ...DEFAULT_CONFIG.cache, maxEntries: 64 },
    upstream: { ...DEFAULT_CONFIG.upstream, rtoInitialMs: 100, rtoMaxMs: 100, totalTimeoutMs: 250, maxAttempts: 3 },
  };
  const pipeline = createPipeline(config, ports, counters);
  return { handle: createHandle(pipeline.chain, counters), time, accepted };
}

const CLIENT_NAMES = ['a.example', 'b.example', 'www.example.org', 'mail.example.net', `${'y'.repeat(50)}.example`, '.'];
const CLIENT_TYPES = [1, 28, 15, 16, 255, 6];

function clientQuery(rnd: Prng): Uint8Array {
  const edns = rnd.chance(0.6) ? opt(rnd.pick([0, 512, 1232, 4096, 65535]), { do: rnd.chance(0.3) }) : [];
  const qname = name(rnd.pick(CLIENT_NAMES));
  const b = concat(
    header({ id: rnd.int(0x10000), flags2: rnd.chance(0.9) ? 1 : 0, flags3: (rnd.chance(0.2) ? 0x20 : 0) | (rnd.chance(0.2) ? 0x10 : 0), ar: edns.length ? 1 : 0 }),
    qname,
    u16be(rnd.pick(CLIENT_TYPES)),
    u16be(1),
    edns,
  );
  return flipCase(b, 12, 12 + qname.length, rnd);
}

async function checkHandle(run: PipelineRun, bytes: Uint8Array, transport: 'udp' | 'tcp', i: number, applied: string[]): Promise<void> {
  const fail = (detail: string) => assert.fail(failure(`handle over ${transport}`, i, bytes, detail, applied));
  let settled = false;
  let out: Uint8Array | null = null;
  let thrown: unknown = null;
  Promise.resolve(run.handle(bytes, { address: '192.0.2.100', port: 5300, transport })).then(
    (r) => {
      settled = true;
      out = r;
    },
    (e) => {
      settled = true;
      thrown = e;
    },
  );
  // Let microtasks run; move fake time only when nothing else can happen (a macrotask runs
  // only once every microtask has). Upstream timeouts add up to 250 ms (the total deadline):
  // 10 s of fake time without an answer is a hang.
  for (let step = 0; !settled; step++) {
    for (let k = 0; k < 20 && !settled; k++) await null;
    if (!settled) await new Promise((resolve) => setImmediate(resolve));
    if (settled) break;
    if (step >= 100) fail('no reply after 10 s of fake time');
    run.time.advance(100);
  }
  if (thrown) return fail(`handle rejected: ${String(thrown)}`);
  const parsed = parseQuery(bytes);
  const reply = out as Uint8Array | null;
  if (!parsed.ok && (parsed.problem === QueryProblem.short || parsed.problem === QueryProblem.response)) {
    if (reply !== null) fail('answered a packet that must be dropped');
    return;
  }
  if (reply === null) return fail('no reply');
  if (reply[0] !== bytes[0] || reply[1] !== bytes[1]) fail('ID not echoed');
  if (!parsed.ok) {
    if (!dpDecode(reply)) fail(`dns-packet cannot read our error reply: ${hex(reply)}`);
    return;
  }
  const q = parsed.query;
  checkReplyShape(reply, q, replyLimit(q, transport), fail);
  if (!dpDecode(reply)) {
    // Fair only if every reply we may have stored for this question was a fair basis.
    const fair = (run.accepted.get(questionKey(bytes, q.nameEnd)) ?? []).every((r) => {
      const scan = scanMessage(r);
      return typeof scan === 'string' || fairBasis(toStored(r, scan, DEFAULT_CONFIG.cache.maxTtlSeconds).wire);
    });
    if (fair) fail(`dns-packet cannot read our reply: ${hex(reply)}`);
  }
}

// ---------------------------------------------------------------------------------------

describe(`fuzzing (seed ${SEED_TEXT})`, () => {
  it(`parseQuery never throws and reads questions as dns-packet does: ${RANDOM_CASES} random, ${MUTATED_CASES} mutated (seed ${SEED_TEXT})`, () => {
    const rnd = createPrng(SEED ^ 0xa);
    for (let i = 0; i < RANDOM_CASES; i++) {
      // Half pure noise, half noise behind a header that passes the first checks.
      const tail = rnd.bytes(rnd.int(300));
      const bytes = rnd.chance(0.5) ? tail : concat(header({ id: rnd.int(0x10000), flags2: rnd.int(2), flags3: rnd.int(256), an: rnd.int(3), ns: rnd.int(3), ar: rnd.int(3) }), tail);
      checkParse(bytes, i, rnd);
    }
    const corpus = corpusQueries();
    for (let i = 0; i < MUTATED_CASES; i++) {
      const { bytes, applied } = mutate(rnd.pick(corpus), rnd);
      checkParse(bytes, RANDOM_CASES + i, rnd, applied);
    }
  });

  it(`stores and renders any reply it accepts as a well-formed message: ${RANDOM_CASES} random, ${MUTATED_CASES} mutated (seed ${SEED_TEXT})`, () => {
    const rnd = createPrng(SEED ^ 0xb);
    for (let i = 0; i < RANDOM_CASES; i++) {
      const tail = rnd.bytes(rnd.int(400));
      const question = [...name(rnd.pick(QUERY_NAMES)), 0, rnd.int(256), 0, 1];
      const bytes = rnd.chance(0.3) ? tail : concat(header({ flags2: 0x81, flags3: 0x80, an: rnd.int(4), ns: rnd.int(3), ar: rnd.int(3) }), question, tail);
      checkStoreAndRender(bytes, i, rnd);
    }
    const queries = corpusQueries().filter((q) => parseQuery(q).ok);
    for (let i = 0; i < MUTATED_CASES; i++) {
      const base = buildReply(rnd.pick(queries), rnd);
      if (rnd.chance(0.1)) {
        checkStoreAndRender(base, RANDOM_CASES + i, rnd, ['none']);
        continue;
      }
      const { bytes, applied } = mutate(base, rnd);
      checkStoreAndRender(bytes, RANDOM_CASES + i, rnd, applied);
    }
  });

  it(`handle() answers every query it should, well-formed and in time, over upstreams sending broken replies: ${PIPELINE_CASES} queries (seed ${SEED_TEXT})`, async () => {
    const rnd = createPrng(SEED ^ 0xc);
    let run = createRun(rnd);
    for (let i = 0; i < PIPELINE_CASES; i++) {
      if (i % 500 === 0) run = createRun(rnd);
      run.time.advance(rnd.pick([0, 0, 1_000, 30_000, 400_000]));
      let bytes = clientQuery(rnd);
      let applied: string[] = [];
      if (rnd.chance(0.15)) ({ bytes, applied } = mutate(bytes, rnd));
      else if (rnd.chance(0.05)) [bytes, applied] = [rnd.bytes(rnd.int(120)), ['random']];
      await checkHandle(run, bytes, rnd.chance(0.7) ? 'udp' : 'tcp', i, applied);
    }
  });
});

describe('fuzzing regressions', () => {
  it('#2 - refuses a reply whose NS name runs past its record data (seed 0x5eed2026, case 28999)', () => {
    // The root byte ending "ns1.example" in the NS data was flipped to 0x20; dns-packet read
    // the name on into the next record, and our copy, shorter by the OPT, not at all.
    const reply = fromHex(
      '1234818000010001000100020001df0001c00c000100010000012c0004c00002be076578616d706c6500000200017fffffff000d036e7331076578616d706c6520036e7331076578616d706c6500000100017fffffff0004d00002620000290200000000020000',
    );
    assert.match(String(scanMessage(reply)), /malformed name in the data of a type 2 record/);
  });

  it('#2 - refuses a reply whose owner name is read on through the TTL it precedes (seed 6, case 73623)', () => {
    // The second answer's owner points into the first answer's address; read from there the
    // name runs through the pointer itself and the TTL after it, which we rewrite when serving.
    const reply = fromHex(
      '123481800001000500000000045f736970045f746370076578616d706c65036e65740000210001c00c000100017fffffff0004c000026bc035000100017fffffff0004c000026dc00c00010001ffffffff0004c02602c5c00c000100010000012c0004c00002dcc00c000100012c0000010004f100020a',
    );
    assert.equal(scanMessage(reply), 'compression pointer that does not point backwards into the message');
  });

  it('#2 - serves a reply that had bytes after its last record with our OPT where clients look for it', () => {
    const q = parseQuery(packetQuery('a.example', 'A', { id: 9, edns: 1232, do: true }));
    assert.ok(q.ok);
    const upstream = concat(header({ flags2: 0x81, flags3: 0x80, an: 1 }), q.query.bytes.subarray(12, q.query.questionEnd), rr([0xc0, 12], 1, 60, [192, 0, 2, 1]), [0xde, 0xad]);
    const scan = scanMessage(upstream);
    assert.ok(typeof scan !== 'string');
    const out = renderStored(toStored(upstream, scan, 86_400), q.query, 0, 1232);
    const d = dpDecode(out);
    assert.ok(d, hex(out));
    assert.equal(d.additionals.length, 1);
    assert.equal(d.additionals[0].type, 'OPT');
    assert.equal(d.additionals[0].flag_do, true);
  });
});
