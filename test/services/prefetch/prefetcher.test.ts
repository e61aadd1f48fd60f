import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCounters } from '../../../src/core/counters.ts';
import { DEFAULT_CONFIG, type ServerConfig } from '../../../src/config/config.ts';
import { createHandle } from '../../../src/core/handle.ts';
import type { CorePorts, Peer } from '../../../src/core/ports.ts';
import { createPipeline } from '../../../src/pipeline/chain.ts';
import { createPrefetchBudget } from '../../../src/services/prefetch/budget.ts';
import { attachPrefetcher, createPrefetcher } from '../../../src/services/prefetch/prefetcher.ts';
import { createCacheStore } from '../../../src/pipeline/cache/store.ts';
import type { StoredMessage } from '../../../src/core/wire/message.ts';
import { createFakeTime } from '../../helpers/fake-clock.ts';
import { createFakeNet, drain, peerKey, type Responder } from '../../helpers/fake-net.ts';
import { decode, query, reply } from '../../helpers/packets.ts';

const UPSTREAM: Peer = { address: '192.0.2.53', port: 53 };
const TTL = 100;

function setup(prefetch: Partial<ServerConfig['prefetch']> = {}) {
  const time = createFakeTime();
  let up = true;
  const respond: Responder = (q, send) => {
    if (!up) return;
    const name = decode(q).questions[0].name;
    send(reply(q, { answers: [{ type: 'A', name, ttl: TTL, class: 'IN', data: '192.0.2.1' }] }));
  };
  const { net, sent } = createFakeNet({ [peerKey(UPSTREAM.address, UPSTREAM.port)]: { udp: respond } });
  const ports: CorePorts = { clock: time, timers: time, entropy: { random: () => 0.5, id16: () => 0x4242 }, net };
  const counters = createCounters();
  const config: ServerConfig = { ...DEFAULT_CONFIG, upstreams: [`udp://${UPSTREAM.address}:53`], prefetch: { ...DEFAULT_CONFIG.prefetch, ...prefetch } };
  const pipeline = createPipeline(config, ports, counters);
  const handle = createHandle(pipeline.chain, counters);
  const ask = async (name: string, times = 1) => {
    let last;
    for (let i = 0; i < times; i++) last = await handle(query(name), { address: '127.0.0.1', port: 5555, transport: 'udp' });
    return decode(last!);
  };
  /** Queries sent upstream for `name`. */
  const sentFor = (name: string) => sent.filter((s) => decode(s.bytes).questions[0].name === name).length;
  /** Moves time in one-second steps, letting refreshes complete between ticks. */
  const run = async (seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      time.advance(1000);
      await drain();
    }
  };
  const prefetcher = attachPrefetcher(pipeline, config, ports, counters);
  prefetcher.start();
  return { time, sent, counters, pipeline, prefetcher, ask, sentFor, run, setUp: (v: boolean) => (up = v) };
}

describe('prefetch', () => {
  it('refreshes a popular entry in the last tenth of its TTL, so it never expires while in use', async () => {
    const s = setup();
    await s.ask('popular.example', 3);
    assert.equal(s.sentFor('popular.example'), 1);
    await s.run(TTL * 0.9 - 2);
    assert.equal(s.sentFor('popular.example'), 1, 'not before the last tenth of the TTL');
    await s.run(3);
    assert.equal(s.sentFor('popular.example'), 2, 'refreshed before it expired');
    assert.equal(s.counters.prefetch_queries, 1);
    await s.run(15);
    const r = await s.ask('popular.example');
    const ttl = r.answers[0]?.ttl ?? -1;
    assert.ok(ttl > TTL - 20, `fresh, with TTL ${ttl}`);
    assert.equal(s.sentFor('popular.example'), 2, 'answered from the refreshed entry');
    s.prefetcher.stop();
  });

  it('leaves an entry asked for once to expire', async () => {
    const s = setup();
    await s.ask('once.example');
    await s.run(TTL + 5);
    assert.equal(s.sentFor('once.example'), 1);
    assert.equal(s.counters.prefetch_queries, 0);
    s.prefetcher.stop();
  });

  it('stops refreshing a name nobody asks for any more, as its popularity decays', async () => {
    const s = setup({ popularityHalfLifeSeconds: 60 });
    await s.ask('faded.example', 4);
    // With a 60 s half-life, 4 hits fall below half the threshold (1.5) within two minutes.
    await s.run(10 * TTL);
    assert.ok(s.sentFor('faded.example') <= 3, `${s.sentFor('faded.example')} queries for a name asked about once, ten TTLs ago`);
    assert.equal(s.prefetcher.watched, 0);
    s.prefetcher.stop();
  });

  it('keeps within the queries-per-minute budget, most popular first', async () => {
    const s = setup({ queriesPerMinute: 2 });
    // The budget starts full (2); spend it on 2 other names first, so it is empty when ours are due.
    for (let i = 0; i < 5; i++) await s.ask(`n${i}.example`, 3 + i);
    await s.run(TTL * 0.9);
    const refreshed = [0, 1, 2, 3, 4].filter((i) => s.sentFor(`n${i}.example`) === 2);
    assert.deepEqual(refreshed, [3, 4], 'the two most popular were refreshed within the budget');
    assert.ok(s.counters.prefetch_over_budget > 0);
    assert.equal(s.counters.prefetch_queries, 2);
    s.prefetcher.stop();
  });

  it('keeps within the bytes-per-hour budget', async () => {
    // One minute's worth of bytes is the bucket: about one refresh of these names (~140 bytes).
    const s = setup({ bytesPerHour: 60 * 200 });
    for (let i = 0; i < 4; i++) await s.ask(`b${i}.example`, 3);
    await s.run(TTL * 0.9);
    assert.equal(s.counters.prefetch_queries, 1);
    assert.ok(s.prefetcher.budget.spentBytes > 100 && s.prefetcher.budget.spentBytes <= 200);
    s.prefetcher.stop();
  });

  it('pauses while no upstream is healthy, and resumes once one is', async () => {
    const s = setup();
    await s.ask('paused.example', 3);
    s.setUp(false);
    // Open the breaker: unanswered client queries for other names.
    for (let i = 0; i < 3; i++) {
      const pending = s.ask(`down${i}.example`);
      await s.run(5);
      await pending;
    }
    assert.equal(s.pipeline.upstreams.healthy(), false);
    const before = s.sentFor('paused.example');
    await s.run(TTL);
    assert.equal(s.sentFor('paused.example'), before, 'no prefetch while the breaker is open');
    assert.ok(s.counters.prefetch_paused > 0);
    s.setUp(true);
    // A client query carries the probe that closes the breaker.
    await s.run(15);
    const probe = s.ask('probe.example');
    await s.run(3);
    await probe;
    assert.equal(s.pipeline.upstreams.healthy(), true);
    await s.run(3);
    assert.equal(s.sentFor('paused.example'), before + 1, 'the expired popular entry is refreshed once healthy');
    s.prefetcher.stop();
  });

  it('after a restart, refreshes the most popular expired entries first (watchPopular)', async () => {
    const s = setup({ queriesPerMinute: 1 });
    // Entries as a snapshot would bring them back: expired, with popularity earned before.
    const first = setup();
    await first.ask('restored-a.example');
    await first.ask('restored-b.example');
    first.prefetcher.stop();
    const now = s.time.now();
    for (const [name, score] of [['restored-a.example', 5], ['restored-b.example', 50]] as const) {
      const old = [...first.pipeline.cache.entries()].find((e) => decode(e.message.wire).questions[0].name === name)!;
      const e = s.pipeline.cache.set(old.key, old.message, now - 200_000, 100_000);
      e.popularity = score;
      e.popularityAtMs = now;
    }
    s.prefetcher.watchPopular();
    assert.equal(s.prefetcher.watched, 2);
    await s.run(2);
    assert.equal(s.sentFor('restored-b.example'), 1, 'the more popular first');
    assert.equal(s.sentFor('restored-a.example'), 0, 'the other waits for budget');
    await s.run(60);
    assert.equal(s.sentFor('restored-a.example'), 1);
    s.prefetcher.stop();
  });
});

describe('prefetch after a load (watchPopular)', () => {
  const T0 = 1_700_000_000_000;
  const message: StoredMessage = { wire: Uint8Array.from([1]), ttls: [], rcode: 0, ad: false, answerCount: 1, minAnswerTtl: 60, negativeTtl: -1 };

  it('#11 - looks through a large cache a slice per turn of the loop, the most popular first, skipping entries gone meanwhile', async () => {
    const store = createCacheStore(100_000, () => T0);
    for (let i = 0; i < 60_000; i++) store.put(`k${i}`, message, T0, 60_000);
    // Popular: every 1,000th, scored by its number; k5000 scored but evicted during the walk.
    for (let i = 0; i < 60_000; i += 1_000) store.setPopularity(store.find(`k${i}`), 10 + i, T0);
    const turns: Array<() => void> = [];
    const time = createFakeTime(T0);
    const prefetcher = createPrefetcher(
      { ...DEFAULT_CONFIG.prefetch, queriesPerMinute: 60, minPopularity: 3 },
      {
        store,
        refresh: async () => true,
        healthy: () => true,
        clock: time,
        timers: { ...time, setImmediate: (fn) => turns.push(fn) },
        counters: createCounters(),
        recheckMs: 60_000,
      },
    );
    let done = false;
    void prefetcher.watchPopular().then(() => (done = true));
    assert.equal(prefetcher.watched, 0, 'nothing at once: the walk goes on in later turns');
    let n = 0;
    while (turns.length > 0) {
      if (n++ === 1) store.delete('k5000');
      turns.shift()!();
    }
    await Promise.resolve();
    assert.ok(n >= 3, `the walk took ${n} turns after the first`);
    assert.equal(done, true);
    assert.equal(prefetcher.watched, 59, 'the 60 popular, less the one deleted');
  });
});

describe('prefetch budget', () => {
  it('holds a minute of queries and refills at the configured rate', () => {
    const b = createPrefetchBudget({ queriesPerMinute: 60, bytesPerHour: 0 }, 0);
    let n = 0;
    while (b.trySpend(100, 0)) n++;
    assert.equal(n, 60);
    assert.equal(b.trySpend(100, 999), false);
    assert.equal(b.trySpend(100, 1000), true, 'one more after a second');
  });

  it('limits bytes to an hour\'s rate, a minute\'s worth at a time', () => {
    const b = createPrefetchBudget({ queriesPerMinute: 1000, bytesPerHour: 60_000 }, 0);
    assert.equal(b.trySpend(600, 0), true);
    assert.equal(b.trySpend(600, 0), false, 'a minute of bytes is 1000');
    assert.equal(b.trySpend(400, 0), true);
    b.adjust(400);
    assert.equal(b.spentBytes, 1400);
    assert.equal(b.trySpend(100, 20_000), false, 'the correction left the bucket in debt');
    assert.equal(b.trySpend(100, 60_000), true, 'refilled after a minute');
  });

  it('refills nothing when the clock steps back', () => {
    const b = createPrefetchBudget({ queriesPerMinute: 1, bytesPerHour: 0 }, 1_000_000);
    assert.equal(b.trySpend(1, 1_000_000), true);
    assert.equal(b.trySpend(1, 0), false);
    assert.equal(b.trySpend(1, 1_000_000 + 59_000), false);
    assert.equal(b.trySpend(1, 1_000_000 + 60_000), true);
  });
});
