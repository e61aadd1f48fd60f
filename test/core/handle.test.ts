import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, ClientInfo, Next, Request } from '../../src/core/answer.ts';
import { createCounters } from '../../src/core/counters.ts';
import { ErrorCode, HoldfastError, Rcode } from '../../src/core/errors.ts';
import { Admit, createHandle, type AdmitAction, type HandledQuery } from '../../src/core/handle.ts';
import { createLatencyHistograms, LATENCY_BUCKETS_MS, LATENCY_SOURCES } from '../../src/core/latency.ts';
import { scanMessage, toStored } from '../../src/core/wire/message.ts';
import { decode } from '../helpers/packets.ts';
import { concat, header, opt, question, rawQuery, rr } from '../helpers/wire-build.ts';

const UDP: ClientInfo = { address: '192.0.2.7', port: 5353, transport: 'udp' };
const TCP: ClientInfo = { ...UDP, transport: 'tcp' };

function upstreamAnswer(qname: string, records: number[][]): Answer {
  const b = concat(header({ flags2: 0x81, flags3: 0x80, an: records.length }), question(qname), ...records);
  const scan = scanMessage(b);
  if (typeof scan === 'string') throw new Error(scan);
  return { source: 'upstream', reason: 'test', rcode: 0, message: toStored(b, scan, 86_400), ageSeconds: 0 };
}

function setup(chain: Next) {
  const counters = createCounters();
  const handled: HandledQuery[] = [];
  const requests: Request[] = [];
  const handle = createHandle(
    (req) => {
      requests.push(req);
      return chain(req);
    },
    counters,
    { onAnswered: (h) => handled.push(h) },
  );
  return { counters, handle, handled, requests };
}

const never: Next = () => assert.fail('the chain must not be reached');

describe('handle: what is dropped', () => {
  it('drops a packet too short for a header, and counts it', async () => {
    const { handle, counters } = setup(never);
    assert.equal(await handle(new Uint8Array(11), UDP), null);
    assert.equal(counters.dropped_short, 1);
    assert.equal(counters.queries_udp, 1);
  });

  it('drops a response (QR=1) so it can never be reflected, and counts it', async () => {
    const { handle, counters } = setup(never);
    assert.equal(await handle(rawQuery('a.example', { flags2: 0x81 }), UDP), null);
    assert.equal(counters.dropped_response, 1);
  });
});

describe('handle: error replies', () => {
  it('answers NOTIMP to an opcode other than QUERY, echoing ID and opcode', async () => {
    const { handle, counters } = setup(never);
    const reply = (await handle(rawQuery('a.example', { id: 99, flags2: (2 << 3) | 1 }), UDP))!;
    assert.equal(reply.length, 12);
    assert.equal((reply[0] << 8) | reply[1], 99);
    assert.equal((reply[2] >> 3) & 0xf, 2);
    assert.equal(reply[3] & 0xf, Rcode.NOTIMP);
    assert.equal(counters.notimp_opcode, 1);
  });

  it('answers FORMERR to QDCOUNT 0 and QDCOUNT 2', async () => {
    const { handle, counters } = setup(never);
    for (const qd of [0, 2]) {
      const reply = (await handle(concat(header({ id: 5, qd }), question('a.example'), question('b.example')), TCP))!;
      assert.equal(decode(reply).rcode, 'FORMERR');
      assert.equal(decode(reply).id, 5);
    }
    assert.equal(counters.formerr_qdcount, 2);
    assert.equal(counters.queries_tcp, 2);
  });

  it('answers FORMERR to a malformed question, with no question in the reply', async () => {
    const { handle, counters } = setup(never);
    const reply = (await handle(concat(header({ id: 6 }), [0xc0, 12, 0, 1, 0, 1]), UDP))!;
    const d = decode(reply);
    assert.equal(d.rcode, 'FORMERR');
    assert.equal(d.questions.length, 0);
    assert.equal(counters.formerr_malformed, 1);
  });

  it('answers BADVERS to EDNS version 1: extended rcode 1 in OPT, question echoed (RFC 6891 §6.1.3)', async () => {
    const { handle, counters } = setup(never);
    const reply = (await handle(rawQuery('Ver.Example', { id: 8, edns: opt(1232, { version: 1 }) }), UDP))!;
    const d = decode(reply);
    assert.equal(d.id, 8);
    assert.equal(d.questions[0].name, 'Ver.Example');
    assert.equal(reply[3] & 0x0f, 0);
    const o = d.additionals[0] as unknown as { type: string; extendedRcode: number };
    assert.equal(o.type, 'OPT');
    assert.equal(o.extendedRcode, 1);
    assert.equal(counters.badvers, 1);
  });
});

describe('handle: answers from the chain', () => {
  it('passes the parsed query and the client to the chain', async () => {
    const { handle, requests } = setup(async () => upstreamAnswer('a.example', []));
    await handle(rawQuery('a.example', { id: 3 }), TCP);
    assert.equal(requests.length, 1);
    assert.equal(requests[0].query.id, 3);
    assert.equal(requests[0].client, TCP);
  });

  it('renders a stored answer for this client and counts it by source', async () => {
    const { handle, counters, handled } = setup(async () => upstreamAnswer('a.example', [rr([0xc0, 12], 1, 60, [192, 0, 2, 1])]));
    const reply = (await handle(rawQuery('A.example', { id: 0x1111 }), UDP))!;
    const d = decode(reply);
    assert.equal(d.id, 0x1111);
    assert.equal(d.questions[0].name, 'A.example');
    assert.equal(d.answers[0].data, '192.0.2.1');
    assert.equal(counters.answers_upstream, 1);
    assert.equal(handled.length, 1);
    assert.equal(handled[0].reply, reply);
    assert.equal(handled[0].error, null);
  });

  it('counts stale answers apart: served on error, and served while refreshing', async () => {
    const stored = upstreamAnswer('a.example', [rr([0xc0, 12], 1, 60, [192, 0, 2, 1])]);
    for (const [source, counter] of [
      ['cache-stale', 'answers_stale'],
      ['cache-revalidating', 'answers_stale_revalidating'],
    ] as const) {
      const { handle, counters } = setup(async () => ({ ...stored, source, ttlOverrideSeconds: 30 }));
      const d = decode((await handle(rawQuery('a.example'), UDP))!);
      assert.equal(d.answers[0].ttl, 30);
      assert.equal(counters[counter], 1, source);
      assert.equal(counters.answers_stale + counters.answers_stale_revalidating, 1);
    }
  });

  it('#14 - counts each source of the issue under its own outcome, and only there', async () => {
    const stored = upstreamAnswer('a.example', [rr([0xc0, 12], 1, 60, [192, 0, 2, 1])]);
    const outcomes = ['answers_local', 'answers_blocked', 'answers_rewrite', 'answers_forward_zone'] as const;
    for (const [source, counter] of [
      ['local', 'answers_local'],
      ['blocked', 'answers_blocked'],
      ['rewrite', 'answers_rewrite'],
      ['forward-zone', 'answers_forward_zone'],
    ] as const) {
      const { handle, counters } = setup(async () => ({ ...stored, source }));
      await handle(rawQuery('a.example'), UDP);
      for (const c of outcomes) assert.equal(counters[c], c === counter ? 1 : 0, `${source}: ${c}`);
    }
  });

  it('answers a bare rcode when the answer has no message', async () => {
    const { handle, counters } = setup(async () => ({ source: 'synthetic', reason: 'test', rcode: Rcode.REFUSED, message: null, ageSeconds: 0 }));
    const d = decode((await handle(rawQuery('a.example'), UDP))!);
    assert.equal(d.rcode, 'REFUSED');
    assert.equal(d.answers.length, 0);
    assert.equal(counters.answers_synthetic, 1);
  });

  it('renders the RFC 8482 minimal reply when the answer says so', async () => {
    const { handle } = setup(async () => ({ source: 'synthetic', reason: 'any', rcode: 0, message: null, ageSeconds: 0, minimalAny: true }));
    const d = decode((await handle(rawQuery('a.example', { qtype: 255 }), UDP))!);
    assert.equal(d.answers[0].type, 'HINFO');
  });

  it('truncates over UDP and counts it, but not over TCP', async () => {
    const big = Array.from({ length: 40 }, (_, i) => rr([0xc0, 12], 1, 60, [192, 0, 2, i]));
    const { handle, counters } = setup(async () => upstreamAnswer('a.example', big));
    const udp = decode((await handle(rawQuery('a.example', { edns: null }), UDP))!);
    assert.equal(udp.flag_tc, true);
    assert.equal(counters.truncated_udp, 1);
    const tcp = decode((await handle(rawQuery('a.example', { edns: null }), TCP))!);
    assert.equal(tcp.flag_tc, false);
    assert.equal(tcp.answers.length, 40);
    assert.equal(counters.truncated_udp, 1);
  });

  it("answers with a HoldfastError's rcode, and SERVFAIL for any other error", async () => {
    const refused = setup(async () => {
      throw new HoldfastError(ErrorCode.upstreamBadReply, 'x', Rcode.REFUSED);
    });
    assert.equal(decode((await refused.handle(rawQuery('a.example'), UDP))!).rcode, 'REFUSED');
    const thrown = setup(async () => {
      throw new TypeError('bug');
    });
    const reply = (await thrown.handle(rawQuery('a.example', { id: 4 }), UDP))!;
    assert.equal(decode(reply).rcode, 'SERVFAIL');
    assert.equal(decode(reply).id, 4);
    assert.equal(thrown.counters.answers_servfail, 1);
    assert.ok(thrown.handled[0].error instanceof TypeError);
    assert.equal(thrown.handled[0].answer, null);
  });
});

describe('handle: clients turned away before parsing', () => {
  function gated(action: AdmitAction, chain: Next = never) {
    const counters = createCounters();
    const seen: Array<[string, string]> = [];
    const handle = createHandle(chain, counters, {
      admit: (address, transport) => {
        seen.push([address, transport]);
        return action;
      },
    });
    return { handle, counters, seen };
  }

  it('asks admission with the client and answers normally when admitted', async () => {
    const { handle, seen } = gated(Admit.answer, async () => upstreamAnswer('a.example', [rr([0xc0, 12], 1, 60, [192, 0, 2, 1])]));
    const d = decode((await handle(rawQuery('a.example'), UDP))!);
    assert.equal(d.answers[0].data, '192.0.2.1');
    assert.deepEqual(seen, [[UDP.address, UDP.transport]]);
  });

  it('answers REFUSED echoing the ID, the question and an OPT, without reaching the chain', async () => {
    const { handle } = gated(Admit.refuse);
    const reply = (await handle(rawQuery('a.example', { id: 77 }), UDP))!;
    const d = decode(reply);
    assert.equal(d.rcode, 'REFUSED');
    assert.equal(d.id, 77);
    assert.equal(d.questions[0].name, 'a.example');
    assert.equal(d.answers.length, 0);
    assert.equal(d.additionals[0].type, 'OPT');
    assert.ok(reply.length <= rawQuery('a.example').length, 'a refusal is never larger than the query');
  });

  it('answers TC=1 with no records for truncate, so the client retries over TCP', async () => {
    const { handle } = gated(Admit.truncate);
    const d = decode((await handle(rawQuery('a.example', { id: 78 }), UDP))!);
    assert.equal(d.flag_tc, true);
    assert.equal(d.rcode, 'NOERROR');
    assert.equal(d.id, 78);
    assert.equal(d.answers.length, 0);
  });

  it('sends nothing for drop', async () => {
    const { handle, counters } = gated(Admit.drop);
    assert.equal(await handle(rawQuery('a.example'), UDP), null);
    assert.equal(counters.queries_udp, 1);
  });

  it('sends nothing to a turned-away client whose message does not parse', async () => {
    const { handle } = gated(Admit.refuse);
    assert.equal(await handle(rawQuery('a.example', { qd: 2 }), UDP), null);
    assert.equal(await handle(rawQuery('a.example', { id: 1, flags2: (2 << 3) | 1 }), UDP), null);
  });

  it('drops short packets and responses before asking admission, so they use no tokens', async () => {
    const { handle, seen, counters } = gated(Admit.answer);
    assert.equal(await handle(new Uint8Array(5), UDP), null);
    assert.equal(await handle(rawQuery('a.example', { flags2: 0x81 }), UDP), null);
    assert.deepEqual(seen, []);
    assert.equal(counters.dropped_short, 1);
    assert.equal(counters.dropped_response, 1);
  });
});

describe('handle: answer latency', () => {
  function timed(chain: Next) {
    const counters = createCounters();
    const histograms = createLatencyHistograms();
    let nowMs = 1_000;
    const handle = createHandle(chain, counters, { latency: { histograms, now: () => nowMs } });
    return { handle, histograms, advance: (ms: number) => (nowMs += ms) };
  }

  it('times a synchronous answer under its source', () => {
    const answer = upstreamAnswer('a.example', [rr([0xc0, 12], 1, 60, [192, 0, 2, 1])]);
    const t = timed(() => ({ ...answer, source: 'cache-fresh' }));
    const reply = t.handle(rawQuery('a.example'), UDP);
    assert.ok(reply instanceof Uint8Array, 'a synchronous chain still answers synchronously');
    const h = t.histograms.read('cache-fresh');
    assert.equal(h.count, 1);
    assert.equal(h.counts[0], 1, 'no time passed: the first bucket');
    assert.equal(t.histograms.read('upstream').count, 0);
  });

  it('times an asynchronous answer from the query to its reply', async () => {
    let t!: ReturnType<typeof timed>;
    t = timed(async () => {
      await Promise.resolve();
      t.advance(30);
      return upstreamAnswer('a.example', []);
    });
    await t.handle(rawQuery('a.example'), UDP);
    const h = t.histograms.read('upstream');
    assert.equal(h.count, 1);
    assert.equal(h.sumMs, 30);
    assert.equal(h.counts[LATENCY_BUCKETS_MS.indexOf(50)], 1, '30 ms falls in the 50 ms bucket');
  });

  it('times a failed query as failure', async () => {
    const t = timed(async () => {
      throw new HoldfastError(ErrorCode.upstreamsExhausted, 'x');
    });
    await t.handle(rawQuery('a.example'), UDP);
    assert.equal(t.histograms.read('failure').count, 1);
  });

  it('does not time what never reaches the chain (dropped or malformed)', async () => {
    const t = timed(never);
    await t.handle(new Uint8Array(5), UDP);
    await t.handle(rawQuery('a.example', { flags2: 0x81 }), UDP);
    for (const s of LATENCY_SOURCES) assert.equal(t.histograms.read(s).count, 0);
  });
});
