import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCounters } from '../../../src/core/counters.ts';
import { ErrorCode, isHoldfastError } from '../../../src/core/errors.ts';
import type { CorePorts } from '../../../src/core/ports.ts';
import { createUpstreamPool, type PoolOptions } from '../../../src/pipeline/upstream/pool.ts';
import { parseUpstream } from '../../../src/pipeline/upstream/spec.ts';
import { createFakeTime, type FakeTime } from '../../helpers/fake-clock.ts';
import { createFakeNet, settle, type FakeUpstream, type Responder } from '../../helpers/fake-net.ts';
import { decode, query, reply } from '../../helpers/packets.ts';

const A = '192.0.2.1:53';
const B = '192.0.2.2:53';
const C = '192.0.2.3:53';
const OPTIONS: PoolOptions = { attemptTimeoutMs: 1_000, totalTimeoutMs: 10_000, maxAttempts: 3 };
const ANSWER = { type: 'A' as const, name: 'www.example.org', ttl: 300, class: 'IN' as const, data: '192.0.2.99' };

/** Answers after `delayMs` of fake time, with the given rcode. */
function answering(time: FakeTime, delayMs = 0, rcode = 'NOERROR'): Responder {
  return (q, send) => {
    const r = reply(q, { rcode, answers: rcode === 'NOERROR' ? [ANSWER] : [] });
    if (delayMs === 0) send(r);
    else time.setTimeout(() => send(r), delayMs);
  };
}

const silent: Responder = () => {};

function setup(upstreams: Record<string, FakeUpstream> | ((time: FakeTime) => Record<string, FakeUpstream>), urls: string[], options: Partial<PoolOptions> = {}) {
  const time = createFakeTime();
  const fake = createFakeNet(typeof upstreams === 'function' ? upstreams(time) : upstreams);
  const counters = createCounters();
  const ports: CorePorts = { clock: time, timers: time, entropy: { random: () => 0.5, id16: () => 7 }, net: fake.net };
  const pool = createUpstreamPool(urls.map(parseUpstream), { ...OPTIONS, ...options }, ports, counters);
  const ask = (name = 'www.example.org') => settle(pool.exchange(query(name, 'A', { id: 0x4242 })), time, 10);
  const targets = () => fake.sent.map((s) => `${s.transport} ${s.to}`);
  return { time, fake, counters, pool, ask, targets };
}

describe('upstream pool: choosing', () => {
  it('prefers the upstream with the lower smoothed RTT', async () => {
    const s = setup((t) => ({ [A]: { udp: answering(t, 200) }, [B]: { udp: answering(t, 10) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    for (let i = 0; i < 3; i++) await s.ask();
    assert.deepEqual(s.targets(), [`udp ${A}`, `udp ${B}`, `udp ${B}`]);
    const [a, b] = s.pool.health;
    assert.ok(a.srttMs > b.srttMs, `${a.srttMs} > ${b.srttMs}`);
    assert.equal(a.queries, 1);
    assert.equal(b.queries, 2);
  });

  it('skips an upstream that failed recently, and tries it again once the failure is old', async () => {
    const s = setup((t) => ({ [A]: { udp: silent }, [B]: { udp: answering(t, 300) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    const first = await s.ask();
    assert.equal(first.upstream.address, '192.0.2.2');
    assert.deepEqual(s.targets(), [`udp ${A}`, `udp ${B}`]);
    await s.ask();
    assert.deepEqual(s.targets().slice(2), [`udp ${B}`], 'A is not asked while its failure is recent');
    s.time.advance(31_000);
    await settle(s.pool.exchange(query('www.example.org')), s.time, 10).catch(() => null);
    assert.equal(s.targets()[3], `udp ${A}`, 'A has the better RTT once its failure is forgotten');
    assert.equal(s.pool.health[0].failures, 2);
  });
});

describe('upstream pool: failing over', () => {
  for (const rcode of ['SERVFAIL', 'REFUSED']) {
    it(`fails over on ${rcode} and returns the next upstream's answer`, async () => {
      const s = setup((t) => ({ [A]: { udp: answering(t, 0, rcode) }, [B]: { udp: answering(t) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
      const r = await s.ask();
      assert.equal(r.scan.rcode, 0);
      assert.equal(r.upstream.address, '192.0.2.2');
      assert.deepEqual(s.targets(), [`udp ${A}`, `udp ${B}`]);
      assert.equal(s.pool.health[0].consecutiveFailures, 1);
    });
  }

  it('returns the last SERVFAIL or REFUSED when every upstream gives one', async () => {
    const s = setup((t) => ({ [A]: { udp: answering(t, 0, 'REFUSED') }, [B]: { udp: answering(t, 0, 'SERVFAIL') } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    const r = await s.ask();
    assert.equal(r.scan.rcode, 2);
    assert.equal(r.upstream.address, '192.0.2.2');
    assert.equal(s.fake.sent.length, 2, 'each upstream is asked once');
  });

  it('fails over on a timeout and counts it', async () => {
    const s = setup((t) => ({ [A]: { udp: silent }, [B]: { udp: answering(t) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    const started = s.time.now();
    const r = await s.ask();
    assert.equal(r.upstream.address, '192.0.2.2');
    assert.equal(s.counters.upstream_timeouts, 1);
    assert.ok(s.time.now() - started >= OPTIONS.attemptTimeoutMs);
  });

  it('fails over on a garbled reply that matches our ID and question, and counts it', async () => {
    const garbage: Responder = (q, send) => {
      const r = reply(q);
      r[7] = 5; // ANCOUNT 5 with no records
      send(r);
    };
    const s = setup((t) => ({ [A]: { udp: garbage }, [B]: { udp: answering(t) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    const r = await s.ask();
    assert.equal(r.upstream.address, '192.0.2.2');
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
});

describe('upstream pool: limits', () => {
  it('asks at most maxAttempts times, then fails with a code', async () => {
    const s = setup({ [A]: { udp: silent }, [B]: { udp: silent }, [C]: { udp: silent } }, ['udp://192.0.2.1', 'udp://192.0.2.2', 'udp://192.0.2.3'], { maxAttempts: 2 });
    await assert.rejects(s.ask(), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamsExhausted) && e.rcode === 2);
    assert.equal(s.fake.sent.length, 2);
    assert.equal(s.counters.upstream_timeouts, 2);
  });

  it('retries a single silent upstream up to maxAttempts', async () => {
    const s = setup({ [A]: { udp: silent } }, ['udp://192.0.2.1'], { maxAttempts: 3 });
    await assert.rejects(s.ask());
    assert.deepEqual(s.targets(), [`udp ${A}`, `udp ${A}`, `udp ${A}`]);
  });

  it('gives up at the total deadline, shortening the last attempt to fit', async () => {
    const s = setup({ [A]: { udp: silent }, [B]: { udp: silent }, [C]: { udp: silent } }, ['udp://192.0.2.1', 'udp://192.0.2.2', 'udp://192.0.2.3'], {
      attemptTimeoutMs: 1_500,
      totalTimeoutMs: 2_000,
      maxAttempts: 3,
    });
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
    assert.equal(s.fake.sent.length, 2, 'no third attempt after the deadline');
    assert.ok(failedAt - started <= 2_000 + 10, `failed ${failedAt - started} ms after the start`);
    assert.ok(failedAt - started >= 2_000, `failed ${failedAt - started} ms after the start`);
  });

  it('closes every socket it opens, late replies included', async () => {
    const s = setup((t) => ({ [A]: { udp: answering(t, 5_000) }, [B]: { udp: answering(t) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    await s.ask();
    s.time.advance(10_000);
    assert.equal(s.fake.open(), 0);
  });
});

describe('upstream pool: TCP', () => {
  it('asks again over TCP when the UDP reply is truncated (RFC 7766 §5)', async () => {
    const s = setup(
      (t) => ({ [A]: { udp: (q, send) => send(reply(q, { tc: true })), tcp: answering(t) } }),
      ['udp://192.0.2.1'],
    );
    const r = await s.ask();
    assert.equal(r.scan.truncated, false);
    assert.equal(decode(r.bytes).answers.length, 1);
    assert.deepEqual(s.targets(), [`udp ${A}`, `tcp ${A}`]);
    assert.equal(s.counters.upstream_tcp_fallbacks, 1);
    assert.equal(s.fake.open(), 0);
  });

  it('goes straight to TCP for a tcp:// upstream', async () => {
    const s = setup((t) => ({ [A]: { tcp: answering(t) } }), ['tcp://192.0.2.1']);
    await s.ask();
    assert.deepEqual(s.targets(), [`tcp ${A}`]);
  });

  it('fails over when the TCP retry after truncation is refused', async () => {
    const s = setup(
      (t) => ({ [A]: { udp: (q, send) => send(reply(q, { tc: true })) }, [B]: { udp: answering(t) } }),
      ['udp://192.0.2.1', 'udp://192.0.2.2'],
    );
    const r = await s.ask();
    assert.equal(r.upstream.address, '192.0.2.2');
    assert.equal(s.counters.upstream_errors, 1);
  });
});

describe('upstream pool: odd failures', () => {
  it('#2 - treats an unexpected error from a transport as that upstream failing, and fails over', async () => {
    const s = setup((t) => ({ [A]: { udp: answering(t) }, [B]: { udp: answering(t) } }), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    const bind = s.fake.net.bindUdp;
    let calls = 0;
    s.fake.net.bindUdp = (...args) => {
      if (calls++ === 0) throw new TypeError('socket table full');
      return bind(...args);
    };
    const r = await s.ask();
    assert.equal(r.upstream.address, '192.0.2.2');
    assert.equal(s.counters.upstream_errors, 1);
  });
});
