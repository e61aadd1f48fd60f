// Holdfast against upstreams that misbehave, played by the fake upstream: silence, spoofed or
// mismatched replies (RFC 5452), truncation, garbage, SERVFAIL, and a dead first upstream. The
// client must always get an answer or SERVFAIL, never silence and never a forged reply.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dig, udpExchange } from '../helpers/dns-client.ts';
import { POISON, plans, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { decode, query, type Decoded } from '../helpers/packets.ts';

/** Generous: every reply is expected well before this, and a missing one fails the test. */
const REPLY_WAIT_MS = 8000;

async function ask(port: number, name: string, id: number, type = 'A'): Promise<Decoded> {
  const r = await udpExchange(port, query(name, type, { id }), REPLY_WAIT_MS);
  assert.ok(r, `no reply at all for ${name}`);
  const d = decode(r);
  assert.equal(d.id, id);
  return d;
}

const addresses = (d: Decoded) => d.answers.filter((a) => a.type === 'A').map((a) => a.data);

describe('one upstream that misbehaves', () => {
  let fake: FakeUpstream;
  let hf: HoldfastProcess;
  before(async () => {
    fake = await startFakeUpstream();
    hf = await startHoldfast(['--upstream', fake.url.udp, '--timeout', '1200']);
  });
  after(async () => {
    await hf?.stop();
    await fake?.close();
  });

  it('#11 - sends each miss upstream with its own random ID, from a pool of random source ports', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `r${i}.rand.test`);
    // Every client query has the same ID: the upstream IDs must not be copied from it.
    for (const name of names) assert.deepEqual(addresses(await ask(hf.port, name, 0x1234)), ['192.0.2.1']);
    const sent = fake.received.filter((r) => r.name.endsWith('.rand.test'));
    assert.equal(sent.length, names.length);
    const ids = new Set(sent.map((r) => r.id));
    const ports = new Set(sent.map((r) => r.fromPort));
    assert.ok(ids.size >= 18, `only ${ids.size} distinct IDs in ${sent.length} queries`);
    assert.ok(sent.filter((r) => r.id === 0x1234).length <= 1, 'upstream IDs copy the client\'s');
    // A pool of 4 sockets per upstream, a query on one at random (src/upstreams/udp-pool.ts):
    // 20 queries all on one port would be a pool of one, or no random choice.
    assert.ok(ports.size >= 2, `only ${ports.size} distinct source ports in ${sent.length} queries`);
    assert.ok([...ports].every((p) => p >= 1024), `a source port below the ephemeral range: ${[...ports].join(', ')}`);
  });

  it('asks upstream with RD and its own EDNS OPT (version 0, 1232 bytes)', () => {
    const sent = fake.received.filter((r) => r.name.endsWith('.rand.test'));
    assert.ok(sent.length > 0);
    for (const r of sent) {
      assert.equal(r.rd, true);
      assert.deepEqual(r.edns, { udpSize: 1232, do: false, version: 0 });
    }
  });

  it('passes the client\'s DO and CD bits upstream, and keeps such answers apart in the cache', async () => {
    const plain = decode((await udpExchange(hf.port, query('bits.fault.test', 'A', { id: 0x0111 }), REPLY_WAIT_MS))!);
    const dnssec = decode((await udpExchange(hf.port, query('bits.fault.test', 'A', { id: 0x0112, do: true, cd: true }), REPLY_WAIT_MS))!);
    assert.equal(plain.flag_cd, false);
    assert.equal(dnssec.flag_cd, true);
    const opt = dnssec.additionals.find((a) => a.type === 'OPT') as { flags?: number } | undefined;
    assert.ok(opt && (opt.flags ?? 0) & 0x8000, 'DO is not echoed in the reply\'s OPT');
    const sent = fake.received.filter((r) => r.name === 'bits.fault.test');
    assert.equal(sent.length, 2, 'a DO+CD query was answered from the plain query\'s cache entry');
    assert.deepEqual(
      sent.map((r) => [r.edns?.do, r.cd]),
      [
        [false, false],
        [true, true],
      ],
    );
  });

  it('counts TTLs down in answers served from the cache', async () => {
    const first = await ask(hf.port, 'ttl.fault.test', 0x0121);
    assert.equal(first.answers[0]?.ttl, 300);
    await new Promise((r) => setTimeout(r, 1100));
    const later = await ask(hf.port, 'ttl.fault.test', 0x0122);
    assert.equal(fake.count('ttl.fault.test'), 1);
    const ttl = later.answers[0]?.ttl ?? -1;
    assert.ok(ttl >= 0 && ttl < 300, `TTL ${ttl} did not count down`);
  });

  it('answers a repeated question from the cache, without asking upstream again', async () => {
    await ask(hf.port, 'cached.fault.test', 0x0101);
    await ask(hf.port, 'CACHED.fault.test', 0x0102);
    assert.equal(fake.count('cached.fault.test'), 1);
  });

  it('sends identical concurrent misses upstream once', async () => {
    // What one such miss costs upstream: its first copy and whatever copies the hedging sends
    // until the reply at 300 ms (how many depends on the loss this upstream has shown, #12).
    fake.plan('single.fault.test', plans.delay(300));
    assert.deepEqual(addresses(await ask(hf.port, 'single.fault.test', 0x0200)), ['192.0.2.1']);
    const one = fake.count('single.fault.test');
    fake.plan('herd.fault.test', plans.delay(300));
    const replies = await Promise.all([1, 2, 3, 4, 5].map((i) => ask(hf.port, 'herd.fault.test', 0x0200 + i)));
    for (const d of replies) assert.deepEqual(addresses(d), ['192.0.2.1']);
    // Five identical misses share one exchange: about what one costs, where five exchanges
    // would send five times as many.
    assert.ok(fake.count('herd.fault.test') <= one + 1, `${fake.count('herd.fault.test')} copies upstream for five, ${one} for one`);
  });

  for (const bad of ['wrong-id', 'wrong-question', 'spoofed-port'] as const) {
    it(`ignores a reply with a ${bad} and takes the right one that follows`, async () => {
      const name = `${bad}.fault.test`;
      fake.plan(name, plans.badThenGood(bad));
      const d = await ask(hf.port, name, 0x0404);
      assert.equal(d.rcode, 'NOERROR');
      assert.deepEqual(addresses(d), ['192.0.2.1'], `the ${bad} reply (${POISON}) was taken`);
      assert.equal(fake.count(name), 1);
    });
  }

  it('answers SERVFAIL when the only replies are forged', async () => {
    fake.plan('forged.fault.test', { udp: [{ send: 'wrong-id' }, { send: 'spoofed-port' }, { send: 'wrong-question' }], tcp: [] });
    const d = await ask(hf.port, 'forged.fault.test', 0x0505);
    assert.equal(d.rcode, 'SERVFAIL');
    assert.deepEqual(addresses(d), []);
  });

  it('asks again over TCP when the UDP reply is truncated', async () => {
    fake.plan('truncated.fault.test', plans.truncatedOverUdp());
    const d = await ask(hf.port, 'truncated.fault.test', 0x0606);
    assert.equal(d.flag_tc, false);
    assert.deepEqual(addresses(d), ['192.0.2.1']);
    assert.equal(fake.count('truncated.fault.test', 'udp'), 1);
    assert.equal(fake.count('truncated.fault.test', 'tcp'), 1);
  });

  it('answers SERVFAIL when the upstream sends garbage, and goes on serving', async () => {
    fake.plan('garbage.fault.test', plans.garbage());
    const d = await ask(hf.port, 'garbage.fault.test', 0x0707);
    assert.equal(d.rcode, 'SERVFAIL');
    assert.ok(fake.count('garbage.fault.test') >= 1);
    assert.deepEqual(addresses(await ask(hf.port, 'after-garbage.fault.test', 0x0708)), ['192.0.2.1']);
  });

  it('passes on an upstream SERVFAIL and caches it only briefly', async () => {
    fake.plan('servfail.fault.test', plans.rcode('SERVFAIL'));
    assert.equal((await ask(hf.port, 'servfail.fault.test', 0x0801)).rcode, 'SERVFAIL');
    const asked = fake.count('servfail.fault.test');
    assert.ok(asked >= 1);
    // At once: from the cache.
    assert.equal((await ask(hf.port, 'servfail.fault.test', 0x0802)).rcode, 'SERVFAIL');
    assert.equal(fake.count('servfail.fault.test'), asked);
    // Within a few seconds (the default is 5 s; RFC 2308 §7.1 allows up to 5 minutes): asked again.
    fake.plan('servfail.fault.test', plans.answer());
    let d: Decoded | null = null;
    for (let i = 0; i < 40 && fake.count('servfail.fault.test') === asked; i++) {
      await new Promise((r) => setTimeout(r, 250));
      d = await ask(hf.port, 'servfail.fault.test', 0x0900 + i);
    }
    assert.ok(fake.count('servfail.fault.test') > asked, 'the SERVFAIL was still served from the cache after 10 s');
    assert.deepEqual(d && addresses(d), ['192.0.2.1']);
  });
});

describe('an upstream that goes silent, then comes back', () => {
  let fake: FakeUpstream;
  let hf: HoldfastProcess;
  before(async () => {
    fake = await startFakeUpstream({ defaultPlan: plans.drop() });
    hf = await startHoldfast(['--upstream', fake.url.udp, '--timeout', '1200']);
  });
  after(async () => {
    await hf?.stop();
    await fake?.close();
  });

  it('answers SERVFAIL, not silence, when the upstream never replies', async () => {
    const d = await ask(hf.port, 'dropped.fault.test', 0x0303);
    assert.equal(d.rcode, 'SERVFAIL');
    assert.equal(d.answers.length, 0);
    assert.equal(d.questions[0].name, 'dropped.fault.test');
    assert.ok(fake.count('dropped.fault.test') > 1, 'the query was sent again before giving up');
    const r = await dig(hf.port, ['+time=6', 'dropped.fault.test', 'A']);
    assert.match(r.stdout, /status: SERVFAIL/);
  });

  it('is back in use within seconds of answering again, never "dead until restart"', async () => {
    fake.setDefault(plans.answer());
    // The breaker's longest cooldown is 3 s (jittered); poll once a second, for at most 20 s.
    let d: Decoded | null = null;
    for (let i = 0; i < 20 && d?.rcode !== 'NOERROR'; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1000));
      d = await ask(hf.port, `back${i}.fault.test`, 0x0310 + i);
    }
    assert.equal(d?.rcode, 'NOERROR');
    assert.deepEqual(d && addresses(d), ['192.0.2.1']);
  });
});

describe('two upstreams, the first dead', () => {
  let dead: FakeUpstream;
  let live: FakeUpstream;
  let hf: HoldfastProcess;
  before(async () => {
    dead = await startFakeUpstream({ defaultPlan: plans.drop() });
    live = await startFakeUpstream({ a: '192.0.2.2' });
    // The second over TCP: failing over also crosses transports.
    hf = await startHoldfast(['--upstream', dead.url.udp, '--upstream', live.url.tcp, '--timeout', '4000']);
  });
  after(async () => {
    await hf?.stop();
    await dead?.close();
    await live?.close();
  });

  it('answers from the second upstream after the first times out', async () => {
    const d = await ask(hf.port, 'one.failover.test', 0x1001);
    assert.equal(d.rcode, 'NOERROR');
    assert.deepEqual(addresses(d), ['192.0.2.2']);
    assert.equal(dead.count('one.failover.test'), 1, 'the first upstream was not tried first');
    assert.equal(live.count('one.failover.test', 'tcp'), 1);
  });

  it('goes on answering through the second', async () => {
    const r = await dig(hf.port, ['+time=6', 'two.failover.test', 'A', '+short']);
    assert.equal(r.stdout.trim(), '192.0.2.2');
  });
});

describe('two upstreams, the first sending garbage', () => {
  let bad: FakeUpstream;
  let good: FakeUpstream;
  let hf: HoldfastProcess;
  before(async () => {
    bad = await startFakeUpstream({ defaultPlan: plans.garbage() });
    good = await startFakeUpstream({ a: '192.0.2.3' });
    hf = await startHoldfast(['--upstream', bad.url.udp, '--upstream', good.url.udp, '--timeout', '3000']);
  });
  after(async () => {
    await hf?.stop();
    await bad?.close();
    await good?.close();
  });

  it('answers from the next upstream', async () => {
    const d = await ask(hf.port, 'garbage.failover.test', 0x2002);
    assert.equal(d.rcode, 'NOERROR');
    assert.deepEqual(addresses(d), ['192.0.2.3']);
    assert.equal(bad.count('garbage.failover.test'), 1, 'the first upstream was not tried first');
    assert.equal(good.count('garbage.failover.test'), 1);
  });
});
