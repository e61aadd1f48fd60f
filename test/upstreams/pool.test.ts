import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG } from '../../src/config/config.ts';
import { createCounters } from '../../src/core/counters.ts';
import { ErrorCode, isHoldfastError } from '../../src/core/errors.ts';
import type { CorePorts } from '../../src/core/ports.ts';
import { BreakerState } from '../../src/upstreams/health/breaker.ts';
import { createUpstreamPool, type PoolOptions } from '../../src/upstreams/pool.ts';
import { DEFAULT_ENCRYPTED_SETTINGS, type UpstreamEvent } from '../../src/upstreams/transport.ts';
import { parseUpstream } from '../../src/upstreams/spec.ts';
import { MAX_SOCKET_AGE_MS } from '../../src/upstreams/udp-pool.ts';
import { createFakeTime, type FakeTime } from '../helpers/fake-clock.ts';
import { createFakeNet, dnsOverTls, drain, settle, type FakeUpstream, type Responder } from '../helpers/fake-net.ts';
import { decode, query, reply } from '../helpers/packets.ts';
import { createPrng } from '../helpers/prng.ts';
import { copyWaitMs } from '../../src/upstreams/hedged-exchange.ts';

const A = '192.0.2.1:53';
const B = '192.0.2.2:53';
const C = '192.0.2.3:53';
const OPTIONS: PoolOptions = { ...DEFAULT_CONFIG.upstream, totalTimeoutMs: 10_000 };
const ANSWER = { type: 'A' as const, name: 'www.example.org', ttl: 300, class: 'IN' as const, data: '192.0.2.99' };

/** Answers after `delayMs` of fake time, with the given rcode. */
function answering(time: FakeTime, delayMs = 0, rcode = 'NOERROR'): Responder {
  return (q, send) => {
    const r = reply(q, { rcode, answers: rcode === 'NOERROR' ? [ANSWER] : [] });
    if (delayMs === 0) send(r);
    else time.setTimeout(() => send(r), delayMs);
  };
}

/** Answers only the copies whose number (from 0, counted per upstream) `keep` accepts. */
function answeringOnly(time: FakeTime, keep: (n: number) => boolean, delayMs = 0): Responder {
  let n = 0;
  const answer = answering(time, delayMs);
  return (q, send) => {
    if (keep(n++)) answer(q, send);
  };
}

const silent: Responder = () => {};

function setup(
  upstreams: Record<string, FakeUpstream> | ((time: FakeTime) => Record<string, FakeUpstream>),
  urls: string[],
  options: Partial<PoolOptions> = {},
  id16: () => number = () => 7,
) {
  const time = createFakeTime();
  const fake = createFakeNet(typeof upstreams === 'function' ? upstreams(time) : upstreams);
  const counters = createCounters();
  const ports: CorePorts = { clock: time, timers: time, entropy: { random: () => 0.5, id16 }, net: fake.net };
  const events: UpstreamEvent[] = [];
  const pool = createUpstreamPool(urls.map(parseUpstream), { ...OPTIONS, ...options }, ports, counters, {
    ...DEFAULT_ENCRYPTED_SETTINGS,
    onEvent: (e) => events.push(e),
  });
  const ask = (name = 'www.example.org') => settle(pool.exchange(query(name, 'A', { id: 0x4242 })), time, 10);
  const targets = () => fake.sent.map((s) => `${s.transport} ${s.to}`);
  /** The pool's own state lines, "kind upstream", in order. */
  const states = () => events.filter((e) => e.kind === 'failing' || e.kind === 'recovered').map((e) => `${e.kind} ${e.upstream}`);
  return { time, fake, counters, pool, ask, targets, events, states };
}

/** Wraps a responder to note the fake time of each query it gets. */
function timed(time: FakeTime, log: number[], inner: Responder): Responder {
  return (q, send) => {
    log.push(time.now());
    inner(q, send);
  };
}

describe('upstream pool: choosing', () => {
  it('prefers the upstream with the lower smoothed RTT', async () => {
    const s = setup((t) => ({ [A]: { udp: answering(t, 200) }, [B]: { udp: answering(t, 10) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    for (let i = 0; i < 3; i++) await s.ask();
    assert.deepEqual(s.targets(), [`udp ${A}`, `udp ${B}`, `udp ${B}`], 'each is measured once, then the faster one is used');
    const [a, b] = s.pool.health;
    assert.ok(a.srttMs > b.srttMs, `${a.srttMs} > ${b.srttMs}`);
    assert.equal(a.queries, 1);
    assert.equal(b.queries, 2);
  });

  it('sinks an upstream that keeps failing below a steady one before its breaker opens', async () => {
    const s = setup((t) => ({ [A]: { udp: answering(t, 0, 'SERVFAIL') }, [B]: { udp: answering(t, 30) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    await s.ask();
    await s.ask();
    assert.deepEqual(s.targets(), [`udp ${A}`, `udp ${B}`, `udp ${B}`]);
    assert.equal(s.pool.health[0].breaker.state(s.time.now()), BreakerState.closed, 'SERVFAIL is an answer: alive');
  });
});

describe('upstream pool: retransmitting on a lossy link', () => {
  it('sends a second copy when the first outlives the RTO, and takes the first reply to either', async () => {
    const log: number[] = [];
    // The first copy is answered late (after the RTO), the second never: the first copy must still be listening.
    const s = setup((t) => ({ [A]: { udp: timed(t, log, answeringOnly(t, (n) => n === 0, 700)) } }), ['udp://192.0.2.1']);
    const started = s.time.now();
    const r = await s.ask();
    assert.equal(decode(r.bytes).answers[0].data, '192.0.2.99');
    assert.deepEqual(
      log.map((t) => t - started),
      [0, OPTIONS.rtoInitialMs],
      'a copy at once, another after the initial RTO',
    );
    assert.equal(s.counters.upstream_retries, 1);
    assert.equal(s.counters.upstream_timeouts, 1);
    await drain();
    // #11: UDP sockets are pooled; an idle one is closed when its time is up.
    s.time.advance(MAX_SOCKET_AGE_MS);
    await drain();
    assert.equal(s.fake.open(), 0, 'nothing is left open once the pooled sockets retire');
  });

  it('answers when only the third copy gets through, spacing copies by RTO × 1.5ⁿ', async () => {
    const log: number[] = [];
    const s = setup((t) => ({ [A]: { udp: timed(t, log, answeringOnly(t, (n) => n === 2)) } }), ['udp://192.0.2.1']);
    const started = s.time.now();
    const r = await s.ask();
    assert.equal(r.scan.rcode, 0);
    const rto = OPTIONS.rtoInitialMs;
    assert.deepEqual(
      log.map((t) => t - started),
      [0, rto, rto + rto * 1.5],
    );
  });

  it('learns the RTT: later copies follow after SRTT plus a margin, not the initial RTO', async () => {
    const log: number[] = [];
    let drop = false;
    const s = setup(
      (t) => ({
        [A]: {
          udp: timed(t, log, (q, send) => {
            if (!drop) answering(t, 80)(q, send);
          }),
        },
      }),
      ['udp://192.0.2.1'],
    );
    for (let i = 0; i < 10; i++) await s.ask();
    const rto = s.pool.health[0].rto.rtoMs;
    assert.ok(rto >= 80 + 20 && rto < 200, `RTO ${rto} follows an 80 ms RTT`);
    drop = true;
    log.length = 0;
    const started = s.time.now();
    await assert.rejects(s.ask());
    assert.ok(log[1] - started <= Math.ceil(rto) + 10, `second copy after ${log[1] - started} ms`);
  });

  it('keeps the breaker closed on a lossy link: copies lost after a reply was heard do not count', async () => {
    // Ten queries at once; the first copy of every query but n0 is lost, n0 is answered.
    const copiesOf = new Map<string, number>();
    const s = setup(
      (t) => ({
        [A]: {
          udp: (q, send) => {
            const name = decode(q).questions[0].name;
            const n = copiesOf.get(name) ?? 0;
            copiesOf.set(name, n + 1);
            if (name === 'n0.example.org' || n > 0) answering(t, 50)(q, send);
          },
        },
      }),
      ['udp://192.0.2.1'],
    );
    const all = [];
    for (let i = 0; i < 10; i++) all.push(s.pool.exchange(query(`n${i}.example.org`, 'A', { id: i })));
    const results = await settle(Promise.allSettled(all), s.time, 10);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 10, 'every query answered by its second copy');
    assert.equal(s.counters.upstream_timeouts, 9);
    assert.equal(s.pool.health[0].breaker.state(s.time.now()), BreakerState.closed, 'nine lost copies, but the upstream was heard from after they left');
  });

  it('does not open the breaker on a run of lost copies while replies came seconds ago', async () => {
    // Sequential queries; after the first, each needs its sixth copy: five lost in a row, every time.
    let n = 0;
    const lossy = (t: FakeTime): Responder => (q, send) => {
      if (n === 0 || n % 6 === 0) answering(t, 20)(q, send);
      n++;
    };
    const s = setup((t) => ({ [A]: { udp: lossy(t) } }), ['udp://192.0.2.1']);
    await s.ask('warm.example.org');
    for (let i = 0; i < 5; i++) {
      s.time.advance(100);
      const r = await s.ask(`q${i}.example.org`);
      assert.equal(r.scan.rcode, 0);
    }
    assert.equal(s.pool.health[0].breaker.state(s.time.now()), BreakerState.closed);
    // One copy for the first query, six for each other; once the loss is seen, copies go in
    // pairs after two lost ones (#12), so once a pair's second copy went out beside the answered one.
    assert.equal(s.fake.sent.length, 32);
    // A pair's copy that is not judged before the other's reply ends the query is no timeout.
    assert.equal(s.counters.upstream_timeouts, 22);
  });

  it('stops backing off once most silence is loss: copies follow one RTO apart', async () => {
    const log: number[] = [];
    let mode: 'alternate' | 'third' = 'alternate';
    let n = 0;
    const s = setup(
      (t) => ({
        [A]: {
          udp: timed(t, log, (q, send) => {
            // First every other copy is lost; then a query whose first three copies are.
            if (mode === 'alternate' ? n % 2 === 1 : n === 3) answering(t, 20)(q, send);
            n++;
          }),
        },
      }),
      ['udp://192.0.2.1'],
    );
    for (let i = 0; i < 30; i++) await s.ask(`warm${i}.example.org`);
    const h = s.pool.health[0];
    assert.ok(h.lossEstimate >= 0.2, `loss estimate ${h.lossEstimate}`);
    mode = 'third';
    n = 0;
    log.length = 0;
    await s.ask('lossy.example.org');
    const gaps = log.slice(1).map((t, i) => t - log[i]);
    assert.deepEqual(gaps, [gaps[0], gaps[0], 0], 'one RTO apart; after two lost, two at a time (#12)');
  });

  it('hedges to the next upstream when the best one is silent past its RTO', async () => {
    const s = setup((t) => ({ [A]: { udp: silent }, [B]: { udp: answering(t) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    const started = s.time.now();
    const r = await s.ask();
    assert.equal(r.upstream.address, '192.0.2.2');
    assert.deepEqual(s.targets(), [`udp ${A}`, `udp ${B}`]);
    assert.ok(s.time.now() - started >= OPTIONS.rtoInitialMs, 'B was asked only after A\'s RTO');
    assert.ok(s.time.now() - started < OPTIONS.rtoInitialMs + 50);
  });
});

describe('upstream pool: the retry budget', () => {
  it('sends no retry when the budget is spent, and keeps listening to the first copy until the deadline', async () => {
    const s = setup((t) => ({ [A]: { udp: answering(t, 3_000) } }), ['udp://192.0.2.1'], { retryRatio: 0, retryMinPerSecond: 0 });
    const r = await s.ask();
    assert.equal(r.scan.rcode, 0, 'the slow first copy still answers');
    assert.equal(s.fake.sent.length, 1);
    assert.equal(s.counters.upstream_retries_refused, 1);
  });

  it('caps retries at the configured share of queries when every copy is lost', async () => {
    const s = setup({ [A]: { udp: silent } }, ['udp://192.0.2.1'], { retryRatio: 0.5, retryMinPerSecond: 0, totalTimeoutMs: 1_000, breakerFailures: 1_000 });
    const all = [];
    for (let i = 0; i < 20; i++) all.push(s.pool.exchange(query(`n${i}.example.org`, 'A', { id: i })));
    await settle(Promise.allSettled(all), s.time, 10);
    assert.equal(s.counters.upstream_retries, 10, '20 queries × 0.5');
    assert.equal(s.fake.sent.length, 30);
    assert.ok(s.counters.upstream_retries_refused > 0);
  });
});

describe('upstream pool: circuit breaker', () => {
  async function openA(s: ReturnType<typeof setup>) {
    for (let i = 0; i < OPTIONS.breakerFailures && s.pool.health[0].breaker.state(s.time.now()) !== BreakerState.open; i++) {
      await s.ask().catch(() => null);
    }
    assert.equal(s.pool.health[0].breaker.state(s.time.now()), BreakerState.open);
  }

  it('opens after silent copies, then fails fast without sending anything', async () => {
    const s = setup({ [A]: { udp: silent } }, ['udp://192.0.2.1'], { totalTimeoutMs: 1_000 });
    await openA(s);
    const sent = s.fake.sent.length;
    await assert.rejects(s.pool.exchange(query('www.example.org')), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamsUnavailable) && e.rcode === 2);
    assert.equal(s.fake.sent.length, sent, 'nothing sent while open');
    assert.equal(s.counters.upstream_unavailable, 1);
    assert.equal(s.pool.healthy(), false);
  });

  it('is back in use within the cooldown once the upstream recovers', async () => {
    let up = false;
    const s = setup((t) => ({ [A]: { udp: (q, send) => up && answering(t)(q, send) } }), ['udp://192.0.2.1'], { totalTimeoutMs: 1_000 });
    await openA(s);
    up = true;
    // random() is 0.5 in these tests: cooldown × 0.75.
    s.time.advance(OPTIONS.breakerCooldownMs);
    const r = await s.ask();
    assert.equal(r.scan.rcode, 0, 'the half-open probe is answered');
    assert.equal(s.pool.health[0].breaker.state(s.time.now()), BreakerState.closed);
    assert.equal(s.pool.healthy(), true);
  });

  it('skips a dead upstream at once, and probes it alongside the healthy one until it answers again', async () => {
    let aUp = false;
    const s = setup(
      (t) => ({ [A]: { udp: (q, send) => aUp && answering(t, 5)(q, send) }, [B]: { udp: answering(t, 30) } }),
      ['udp://192.0.2.1', 'udp://192.0.2.2'],
      { breakerFailures: 1 },
    );
    await s.ask(); // A silent → open; B answers the hedge
    assert.equal(s.pool.health[0].breaker.state(s.time.now()), BreakerState.open);
    const before = s.fake.sent.length;
    await s.ask();
    assert.deepEqual(s.targets().slice(before), [`udp ${B}`], 'A is not asked while open');
    s.time.advance(OPTIONS.breakerMaxCooldownMs);
    const probing = s.fake.sent.length;
    await s.ask();
    assert.deepEqual(s.targets().slice(probing), [`udp ${B}`, `udp ${A}`], 'B answers; A gets a probe');
    s.time.advance(OPTIONS.rtoMaxMs);
    await drain();
    assert.equal(s.pool.health[0].breaker.state(s.time.now()), BreakerState.open, 'a silent probe re-opens it');
    aUp = true;
    s.time.advance(OPTIONS.breakerMaxCooldownMs);
    await s.ask();
    await drain();
    assert.equal(s.pool.health[0].breaker.state(s.time.now()), BreakerState.closed, 'an answered probe closes it');
    const after = s.fake.sent.length;
    await s.ask();
    assert.deepEqual(s.targets().slice(after), [`udp ${A}`], 'A, now faster than B, is first again');
  });

  it('prefetch-like background work is refused while no upstream is healthy', async () => {
    const s = setup({ [A]: { udp: silent } }, ['udp://192.0.2.1'], { totalTimeoutMs: 1_000 });
    await openA(s);
    await assert.rejects(s.pool.exchange(query('www.example.org'), { background: true }), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamsUnavailable));
  });
});

describe('upstream pool: failing over', () => {
  for (const rcode of ['SERVFAIL', 'REFUSED']) {
    it(`fails over on ${rcode} at once and returns the next upstream's answer`, async () => {
      const s = setup((t) => ({ [A]: { udp: answering(t, 0, rcode) }, [B]: { udp: answering(t) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
      const started = s.time.now();
      const r = await s.ask();
      assert.equal(r.scan.rcode, 0);
      assert.equal(r.upstream.address, '192.0.2.2');
      assert.deepEqual(s.targets(), [`udp ${A}`, `udp ${B}`]);
      assert.ok(s.time.now() - started < OPTIONS.rtoInitialMs, 'without waiting for an RTO');
      assert.equal(s.pool.health[0].consecutiveFailures, 1);
    });
  }

  it('returns the last SERVFAIL or REFUSED when every upstream gives one, asking each once', async () => {
    const s = setup((t) => ({ [A]: { udp: answering(t, 0, 'REFUSED') }, [B]: { udp: answering(t, 0, 'SERVFAIL') } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    const r = await s.ask();
    assert.equal(r.scan.rcode, 2);
    assert.equal(r.upstream.address, '192.0.2.2');
    assert.equal(s.fake.sent.length, 2, 'each upstream is asked once');
  });

  it('fails over at once on a garbled reply that matches our ID and question, and counts it', async () => {
    const garbage: Responder = (q, send) => {
      const r = reply(q);
      r[7] = 5; // ANCOUNT 5 with no records
      send(r);
    };
    const s = setup((t) => ({ [A]: { udp: garbage }, [B]: { udp: answering(t) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    const started = s.time.now();
    const r = await s.ask();
    assert.equal(r.upstream.address, '192.0.2.2');
    assert.ok(s.time.now() - started < OPTIONS.rtoInitialMs);
    assert.equal(s.counters.upstream_bad_replies, 1);
    assert.equal(s.counters.upstream_errors, 1);
  });

  it('fails over when a TCP upstream refuses the connection', async () => {
    const s = setup((t) => ({ [A]: {}, [B]: { tcp: answering(t) } }), ['tcp://192.0.2.1', 'tcp://192.0.2.2']);
    const r = await s.ask();
    assert.equal(r.upstream.address, '192.0.2.2');
    assert.deepEqual(s.targets(), [`tcp ${B}`]);
    assert.equal(s.counters.upstream_errors, 1);
  });

  it('ignores a reply from the wrong port and takes the right one', async () => {
    const s = setup(
      () => ({
        [A]: {
          udp: (q, send) => {
            send(reply(q, { answers: [{ ...ANSWER, data: '203.0.113.66' }] }), { address: '192.0.2.1', port: 5353 });
            send(reply(q, { answers: [ANSWER] }));
          },
        },
      }),
      ['udp://192.0.2.1'],
    );
    const r = await s.ask();
    assert.equal(decode(r.bytes).answers[0].data, '192.0.2.99');
    assert.equal(s.counters.upstream_mismatched_replies, 1);
  });

  it('#2 - treats an unexpected error from a transport as that upstream failing, and fails over', async () => {
    const s = setup((t) => ({ [A]: { udp: answering(t) }, [B]: { udp: answering(t) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    const connect = s.fake.net.connectUdp;
    let calls = 0;
    s.fake.net.connectUdp = (...args) => {
      if (calls++ === 0) throw new TypeError('socket table full');
      return connect(...args);
    };
    const r = await s.ask();
    assert.equal(r.upstream.address, '192.0.2.2');
    assert.equal(s.counters.upstream_errors, 1);
  });
});

describe('upstream pool: limits', () => {
  it('sends at most maxAttempts copies, then fails with a code at the deadline', async () => {
    const s = setup({ [A]: { udp: silent }, [B]: { udp: silent }, [C]: { udp: silent } }, ['udp://192.0.2.1', 'udp://192.0.2.2', 'udp://192.0.2.3'], {
      maxAttempts: 2,
      breakerFailures: 100,
    });
    await assert.rejects(s.ask(), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamsExhausted) && e.rcode === 2);
    assert.equal(s.fake.sent.length, 2);
    assert.equal(s.counters.upstream_timeouts, 2);
  });

  it('gives up at the total deadline, and sends no copy it could not wait for', async () => {
    const s = setup({ [A]: { udp: silent } }, ['udp://192.0.2.1'], { totalTimeoutMs: 1_000, breakerFailures: 100 });
    const started = s.time.now();
    let failedAt = 0;
    await assert.rejects(
      settle(
        s.pool.exchange(query('www.example.org')).catch((e) => {
          failedAt = s.time.now();
          throw e;
        }),
        s.time,
        10,
      ),
    );
    // Copies at 0 and 400; the next would be due at 1000, the deadline itself.
    assert.equal(s.fake.sent.length, 2);
    assert.ok(failedAt - started >= 1_000 && failedAt - started <= 1_010, `failed ${failedAt - started} ms after the start`);
  });

  it('fails fast beyond the in-flight limit, and keeps half of it for client queries', async () => {
    const s = setup((t) => ({ [A]: { udp: answering(t, 100) } }), ['udp://192.0.2.1'], { maxInFlight: 4 });
    const running = [0, 1].map((i) => s.pool.exchange(query(`n${i}.example.org`)));
    await assert.rejects(s.pool.exchange(query('bg.example.org'), { background: true }), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamsUnavailable));
    running.push(s.pool.exchange(query('n2.example.org')), s.pool.exchange(query('n3.example.org')));
    await assert.rejects(s.pool.exchange(query('n4.example.org')), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamsUnavailable));
    assert.equal(s.counters.upstream_overloaded, 2);
    await settle(Promise.all(running), s.time, 10);
    assert.equal(s.pool.inFlight(), 0);
    await s.ask();
  });

  it('passes over an upstream at its per-upstream limit', async () => {
    const s = setup((t) => ({ [A]: { udp: answering(t, 100) }, [B]: { udp: answering(t, 100) } }), ['udp://192.0.2.1', 'udp://192.0.2.2'], { maxInFlightPerUpstream: 1 });
    const both = [s.pool.exchange(query('a.example.org')), s.pool.exchange(query('b.example.org'))];
    await settle(Promise.all(both), s.time, 10);
    assert.deepEqual(s.targets(), [`udp ${A}`, `udp ${B}`]);
  });

  it('ends a query in flight when the pool is closed under it, opening nothing and blaming no upstream', async () => {
    // A pool is closed while queries are in flight on shutdown, or on a reload whose old pool
    // outlives its grace: the query must end (stale or SERVFAIL for its client), not send
    // another copy on a closed transport and wait there for ever.
    const s = setup({ [A]: { udp: silent }, [B]: { udp: silent } }, ['udp://192.0.2.1', 'udp://192.0.2.2']);
    const pending = s.pool.exchange(query('www.example.org'));
    let outcome: unknown = 'pending';
    pending.then(
      () => (outcome = 'answered'),
      (e) => (outcome = e),
    );
    await drain();
    const sent = s.fake.sent.length;
    s.pool.close();
    await drain();
    assert.ok(isHoldfastError(outcome, ErrorCode.upstreamsExhausted) && /pool was closed/.test(outcome.message), `the query ended at once, got ${String(outcome)}`);
    // Nothing was sent or opened after the close, even as the clock moves on.
    s.time.advance(20_000);
    await drain();
    assert.equal(s.fake.sent.length, sent);
    assert.equal(s.fake.open(), 0);
    assert.equal(s.counters.upstream_errors, 0);
    for (const h of s.pool.health) assert.equal(h.breaker.state(s.time.now()), BreakerState.closed);
    assert.equal(s.pool.inFlight(), 0);
  });

  it('closes every socket it opens, late replies included', async () => {
    const s = setup((t) => ({ [A]: { udp: answering(t, 5_000) }, [B]: { udp: answering(t) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    await s.ask();
    s.time.advance(10_000);
    await drain();
    assert.equal(s.fake.open(), 0);
  });
});

describe('#11 - one timer for every exchange\'s hedges', () => {
  it('keeps one timer for the hedges of many exchanges in flight, and each still hedges at its own moment', async () => {
    const log: number[] = [];
    let id = 0;
    // Distinct IDs, so the queries share one pooled socket.
    const s = setup((t) => ({ [A]: { udp: timed(t, log, answeringOnly(t, (n) => n >= 10)) } }), ['udp://192.0.2.1'], {}, () => ++id);
    const started = s.time.now();
    const first = s.pool.exchange(query('n0.example.org', 'A', { id: 1000 }));
    await drain();
    const timersForOne = s.time.pendingTimers;
    s.time.advance(10);
    const rest = Array.from({ length: 9 }, (_, i) => s.pool.exchange(query(`n${i + 1}.example.org`, 'A', { id: 1001 + i })));
    await drain();
    // Each of the ten once had a hedge timer of its own; their sockets and deadlines are shared.
    assert.equal(s.time.pendingTimers, timersForOne, 'nine more exchanges, no more timers');
    await settle(Promise.all([first, ...rest]), s.time, 10);
    const rto = OPTIONS.rtoInitialMs;
    assert.deepEqual(
      log.map((t) => t - started),
      [0, ...Array(9).fill(10), rto, ...Array(9).fill(10 + rto)],
      'the first hedges one RTO after it went out, the nine others one RTO after theirs',
    );
  });
});

describe('upstream pool: TCP', () => {
  it('asks again over TCP when the UDP reply is truncated (RFC 7766 §5)', async () => {
    const s = setup((t) => ({ [A]: { udp: (q, send) => send(reply(q, { tc: true })), tcp: answering(t) } }), ['udp://192.0.2.1']);
    const r = await s.ask();
    assert.equal(r.scan.truncated, false);
    assert.equal(decode(r.bytes).answers.length, 1);
    assert.deepEqual(s.targets(), [`udp ${A}`, `tcp ${A}`]);
    assert.equal(s.counters.upstream_tcp_fallbacks, 1);
    assert.equal(s.fake.open(), 1, 'the TCP connection is closed; the pooled UDP socket stays for the next query');
    s.time.advance(MAX_SOCKET_AGE_MS);
    await drain();
    assert.equal(s.fake.open(), 0);
  });

  it('goes straight to TCP for a tcp:// upstream', async () => {
    const s = setup((t) => ({ [A]: { tcp: answering(t) } }), ['tcp://192.0.2.1']);
    await s.ask();
    assert.deepEqual(s.targets(), [`tcp ${A}`]);
  });

  it('fails over when the TCP retry after truncation is refused', async () => {
    const s = setup((t) => ({ [A]: { udp: (q, send) => send(reply(q, { tc: true })) }, [B]: { udp: answering(t) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    const r = await s.ask();
    assert.equal(r.upstream.address, '192.0.2.2');
    assert.equal(s.counters.upstream_errors, 1);
  });
});

describe('upstream pool: refusals, and each upstream\'s state in the log', () => {
  it('#10 - fails over to the next upstream at once when a UDP upstream refuses (ICMP port unreachable)', async () => {
    const s = setup((t) => ({ [A]: { refuseUdp: true }, [B]: { udp: answering(t) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    const started = s.time.now();
    const r = await s.ask();
    assert.equal(r.upstream.address, '192.0.2.2');
    assert.equal(s.time.now(), started, 'no wait for an RTO: the refusal is an answer');
    assert.deepEqual(s.targets(), [`udp ${A}`, `udp ${B}`]);
    assert.equal(s.counters.upstream_errors, 1);
    assert.equal(s.counters.upstream_timeouts, 0);
  });

  it('#10 - ends the query at once when the only upstream refuses, without asking it again', async () => {
    const s = setup({ [A]: { refuseUdp: true } }, ['udp://192.0.2.1']);
    const started = s.time.now();
    await assert.rejects(s.ask(), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamsExhausted) && /refused/.test(e.message) && e.rcode === 2);
    assert.equal(s.time.now(), started);
    assert.equal(s.fake.sent.length, 1);
  });

  it('#10 - ends the query at once when the only TCP upstream resets the connection', async () => {
    const s = setup({ [A]: {} }, ['tcp://192.0.2.1']);
    const started = s.time.now();
    await assert.rejects(s.ask(), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamsExhausted) && /refused the TCP connection/.test(e.message));
    assert.equal(s.time.now(), started);
    assert.equal(s.pool.health[0].failures, 1);
  });

  it('#10 - counts refusals against the breaker: logged "failing" once with the reason, then not asked', async () => {
    const s = setup({ [A]: { refuseUdp: true } }, ['udp://192.0.2.1:53']);
    for (let i = 0; i < OPTIONS.breakerFailures + 5; i++) await assert.rejects(s.ask(`q${i}.example.org`));
    assert.equal(s.fake.sent.length, OPTIONS.breakerFailures, 'once the breaker is open the upstream is not asked');
    assert.equal(s.counters.upstream_unavailable, 5);
    assert.deepEqual(s.states(), ['failing udp://192.0.2.1:53']);
    const failing = s.events.find((e) => e.kind === 'failing')!;
    assert.equal(failing.code, ErrorCode.upstreamRefused);
    assert.match(failing.message, /^upstream: udp:\/\/192\.0\.2\.1:53 is failing \(refused the query \(ICMP port unreachable/);
  });

  it('#10 - logs "recovered" once when a refusing upstream answers again', async () => {
    const upstreams: Record<string, FakeUpstream> = { [A]: { refuseUdp: true } };
    const s = setup(upstreams, ['udp://192.0.2.1']);
    for (let i = 0; i < OPTIONS.breakerFailures; i++) await assert.rejects(s.ask(`q${i}.example.org`));
    (upstreams as Record<string, FakeUpstream>)[A] = { udp: answering(s.time) };
    s.time.advance(OPTIONS.breakerMaxCooldownMs);
    await s.ask('back.example.org');
    await s.ask('again.example.org');
    assert.deepEqual(s.states(), ['failing udp://192.0.2.1', 'recovered udp://192.0.2.1']);
    assert.equal(s.events[1].code, null);
  });

  it('#10 - calls a silent upstream failing once, for its timeouts, not once per copy', async () => {
    const s = setup({ [A]: { udp: silent } }, ['udp://192.0.2.1'], { totalTimeoutMs: 1_000 });
    for (let i = 0; i < 10; i++) await assert.rejects(s.ask(`q${i}.example.org`));
    assert.deepEqual(s.states(), ['failing udp://192.0.2.1']);
    assert.equal(s.events[0].code, ErrorCode.upstreamTimeout);
    assert.match(s.events[0].message, /is failing \(timeouts: \d+ copies in a row unanswered, never heard from\)/);
  });

  it('#10 - calls a TLS upstream that cannot connect failing once, in the TLS dialer\'s words', async () => {
    const s = setup({ [A]: {} }, ['tls://192.0.2.1:53#dns.example']);
    for (let i = 0; i < 10; i++) {
      await assert.rejects(s.ask(`q${i}.example.org`));
      s.time.advance(500);
    }
    // The dialer's line names the TLS error; the breaker, opening later, adds none.
    assert.deepEqual(
      s.events.map((e) => `${e.kind} ${e.code}`),
      ['connect-failed HF_UPSTREAM_TLS'],
    );
    assert.equal(s.events[0].upstream, 'tls://192.0.2.1:53#dns.example');
    assert.match(s.events[0].message, /TLS connection to tls:\/\/192\.0\.2\.1:53#dns\.example failed \(connect ECONNREFUSED/);
    assert.equal(s.pool.health[0].breaker.state(s.time.now()) !== BreakerState.closed, true, 'the breaker did open');
  });

  it('#10 - says once that a TLS upstream works again: the dialer\'s line, and no second one from the breaker', async () => {
    const upstreams: Record<string, FakeUpstream> = { [A]: {} };
    const s = setup(upstreams, ['tls://192.0.2.1:53#dns.example']);
    for (let i = 0; i < 10; i++) {
      await assert.rejects(s.ask(`q${i}.example.org`));
      s.time.advance(500);
    }
    upstreams[A] = { tls: dnsOverTls(answering(s.time)) };
    s.time.advance(OPTIONS.breakerMaxCooldownMs);
    let answered = 0;
    for (let i = 0; i < 10 && answered < 2; i++) {
      await s.ask(`back${i}.example.org`).then(() => answered++, () => s.time.advance(1_000));
    }
    assert.equal(answered, 2);
    assert.deepEqual(
      s.events.map((e) => e.kind),
      ['connect-failed', 'connected'],
    );
    assert.match(s.events[1].message, /works again \(failing for \d+ s\)$/);
  });
});

describe('#12 - hedging that knows loss from slowness', () => {
  /** A recursive upstream on a clean link: names it has cached in 1 ms, the others (miss*) after 200 ms of recursion. */
  const recursive = (t: FakeTime): Responder => (q, send) => answering(t, decode(q).questions[0].name.startsWith('miss') ? 200 : 1)(q, send);

  it('sends one copy for a 200 ms miss to a slow but lossless upstream', async () => {
    const s = setup((t) => ({ [A]: { udp: recursive(t) } }), ['udp://192.0.2.1']);
    // Its reply times as a forwarder sees them: mostly hits, a miss now and then.
    for (let i = 0; i < 60; i++) await s.ask(i % 10 === 0 ? `miss-warm${i}.example.org` : `hit${i}.example.org`);
    assert.equal(s.fake.sent.length, 60, 'warming up cost one copy a query');
    const before = s.fake.sent.length;
    const started = s.time.now();
    const r = await s.ask('miss-new.example.org');
    assert.equal(r.scan.rcode, 0);
    assert.equal(s.time.now() - started, 200);
    assert.equal(s.fake.sent.length - before, 1, 'no copy follows while the wait is within what this upstream takes');
    assert.equal(s.counters.upstream_retries, 0);
    assert.ok(s.pool.health[0].lossEstimate < 0.05, `no loss seen: ${s.pool.health[0].lossEstimate}`);
  });

  it('hedges a lossy upstream soon after its usual reply time, and two copies at a time once two are lost', async () => {
    const log: number[] = [];
    const prng = createPrng(12);
    // 30% loss each way: a copy is answered (after 80 ms) with probability 0.7 × 0.7.
    const s = setup((t) => ({ [A]: { udp: timed(t, log, (q, send) => prng.chance(0.49) && answering(t, 80)(q, send)) } }), ['udp://192.0.2.1']);
    for (let i = 0; i < 150; i++) await s.ask(`warm${i}.example.org`).catch(() => null);
    const h = s.pool.health[0];
    assert.ok(h.lossEstimate > 0.3, `loss seen: ${h.lossEstimate}`);
    assert.ok(s.fake.sent.length > 150 * 1.5, `${s.fake.sent.length} copies for 150 queries: lost ones were hedged`);
    assert.ok(s.fake.sent.length < 150 * 2.5, `${s.fake.sent.length} copies for 150 queries: within 2.5 a query`);
    // A query whose first copies are all lost: the next ones follow about every 85 ms, not SRTT + 20 ms or more.
    const lossyAgain = setup((t) => ({ [A]: { udp: timed(t, log, () => {}) } }), ['udp://192.0.2.1'], { totalTimeoutMs: 1_000, breakerFailures: 100 });
    Object.assign(lossyAgain.pool.health[0], { lossEstimate: h.lossEstimate });
    for (let i = 0; i < 20; i++) lossyAgain.pool.health[0].latency.sample(80 + (i % 4));
    log.length = 0;
    const waitMs = copyWaitMs(lossyAgain.pool.health[0], 0, OPTIONS);
    assert.ok(waitMs >= 82 && waitMs < 95, `wait ${waitMs} ms: the usual reply time and a margin`);
    // In 1 ms steps, so the copies' times are exact.
    await assert.rejects(settle(lossyAgain.pool.exchange(query('lost.example.org')), lossyAgain.time, 1, 2_000));
    const gaps = log.slice(1).map((at, i) => at - log[i]);
    // Within a millisecond of the wait: the pooled UDP sockets (#11) send once their socket is
    // open, so a copy's send time is no longer on the timer's exact tick.
    assert.ok(gaps.slice(0, 2).every((g) => g >= 82 && g <= Math.ceil(waitMs) + 1), `copies one wait apart: gaps ${gaps}, wait ${waitMs}`);
    assert.equal(gaps[2], 0, `after the second lost copy, two at a time: gaps ${gaps}`);
  });
});

describe('#12 - a lossy 80 ms link, simulated in fake time', () => {
  /** `count` queries 10 ms apart to one upstream that answers a copy after 80-84 ms with probability (1 − loss)². */
  async function run(lossEachWay: number, count = 1_000) {
    const prng = createPrng(1207);
    const pass = (1 - lossEachWay) ** 2;
    const s = setup(
      (t) => ({
        [A]: {
          udp: (q, send) => {
            if (!prng.chance(pass)) return;
            const r = reply(q, { answers: [ANSWER] });
            t.setTimeout(() => send(r), 80 + prng.next() * 4);
          },
        },
      }),
      ['udp://192.0.2.1'],
      { totalTimeoutMs: OPTIONS.totalTimeoutMs },
    );
    const latencies: number[] = [];
    const all: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const started = s.time.now();
      all.push(s.pool.exchange(query(`n${i}.example.org`, 'A', { id: i })).then(() => latencies.push(s.time.now() - started), () => latencies.push(Infinity)));
      for (let ms = 0; ms < 10; ms++) {
        s.time.advance(1);
        await drain();
      }
    }
    await settle(Promise.all(all), s.time, 1, 10_000);
    // After a warm-up of 100 queries, while the pool learns the link.
    const sorted = latencies.slice(100).sort((a, b) => a - b);
    return { p99: sorted[Math.ceil(0.99 * sorted.length) - 1], copiesPerQuery: s.fake.sent.length / count };
  }

  it('keeps the p99 under 600 ms at 30% loss each way, at under 2.5 copies a query', async () => {
    const r = await run(0.3);
    assert.ok(r.p99 < 600, `p99 ${r.p99} ms`);
    assert.ok(r.copiesPerQuery < 2.5, `${r.copiesPerQuery} copies a query`);
  });

  it('sends one copy a query on a clean link, and few more than the losses need at 10%', async () => {
    assert.equal((await run(0)).copiesPerQuery, 1);
    const r = await run(0.1);
    // A copy gets through with probability 0.81: 1 / 0.81 ≈ 1.23 copies a query if none is wasted.
    assert.ok(r.copiesPerQuery < 1.23, `${r.copiesPerQuery} copies a query`);
    // No backing off once a tenth of copies are lost: the fourth copy is not left for 4.75 waits (342 ms before #12).
    assert.ok(r.p99 < 300, `p99 ${r.p99} ms`);
  });
});
