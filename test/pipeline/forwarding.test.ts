import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCounters } from '../../src/core/counters.ts';
import { DEFAULT_CONFIG } from '../../src/config/config.ts';
import { createHandle } from '../../src/core/handle.ts';
import type { CorePorts, Peer } from '../../src/core/ports.ts';
import { createPipeline } from '../../src/pipeline/chain.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';
import { createFakeNet, peerKey, type Responder } from '../helpers/fake-net.ts';
import { decode, query, reply, soa } from '../helpers/packets.ts';

const UPSTREAM: Peer = { address: '192.0.2.53', port: 53 };

function setup(respond: Responder) {
  const time = createFakeTime();
  const { net, sent } = createFakeNet({ [peerKey(UPSTREAM.address, UPSTREAM.port)]: { udp: respond } });
  const ports: CorePorts = { clock: time, timers: time, entropy: { random: () => 0.5, id16: () => 0x4242 }, net };
  const counters = createCounters();
  const config = { ...DEFAULT_CONFIG, upstreams: [`udp://${UPSTREAM.address}:53`] };
  const pipeline = createPipeline(config, ports, counters);
  const handle = createHandle(pipeline.chain, counters);
  const ask = async (bytes: Uint8Array) => decode((await handle(bytes, { address: '127.0.0.1', port: 5555, transport: 'udp' }))!);
  return { time, sent, counters, ask };
}

const a = (name: string, ttl: number, ip: string) => ({ type: 'A' as const, name, ttl, class: 'IN' as const, data: ip });

describe('forwarding and caching', () => {
  it('answers from upstream, then from cache with the TTL counted down', async () => {
    const { time, sent, ask } = setup((q, send) => send(reply(q, { answers: [a('www.example.org', 300, '192.0.2.1')] })));
    const first = await ask(query('www.example.org', 'A', { id: 7 }));
    assert.equal(first.id, 7);
    assert.equal(first.answers?.[0].ttl, 300);
    time.advance(100_500);
    const second = await ask(query('WWW.example.org', 'A', { id: 8 }));
    assert.equal(sent.length, 1, 'the second query is a cache hit');
    assert.equal(second.id, 8);
    assert.equal(second.questions?.[0].name, 'WWW.example.org', 'the client spelling is echoed');
    assert.equal(second.answers?.[0].ttl, 200);
    time.advance(200_000);
    await ask(query('www.example.org'));
    assert.equal(sent.length, 2, 'an expired entry goes upstream again');
  });

  it('caches NXDOMAIN for min(SOA TTL, SOA MINIMUM) (RFC 2308 §5)', async () => {
    const { time, sent, ask } = setup((q, send) => send(reply(q, { rcode: 'NXDOMAIN', authorities: [soa('example.org', 3600, 60)] })));
    assert.equal((await ask(query('nope.example.org'))).rcode, 'NXDOMAIN');
    time.advance(59_000);
    const again = await ask(query('nope.example.org'));
    assert.equal(again.rcode, 'NXDOMAIN');
    assert.equal(sent.length, 1);
    assert.equal(again.authorities?.[0].ttl, 1);
    time.advance(1_000);
    await ask(query('nope.example.org'));
    assert.equal(sent.length, 2);
  });

  it('ignores a reply with the wrong ID and takes the right one (RFC 5452)', async () => {
    const { counters, ask } = setup((q, send) => {
      const spoof = reply(q, { answers: [a('www.example.org', 300, '203.0.113.66')] });
      spoof[0] ^= 0xff;
      send(spoof);
      send(reply(q, { answers: [a('www.example.org', 300, '192.0.2.1')] }));
    });
    const r = await ask(query('www.example.org'));
    assert.equal(r.answers?.[0].data, '192.0.2.1');
    assert.equal(counters.upstream_mismatched_replies, 1);
  });

  it('gives SERVFAIL, not silence, when the upstream never answers', async () => {
    const { time, ask, counters, sent } = setup(() => {});
    const pending = ask(query('www.example.org'));
    for (let i = 0; i < 60; i++) {
      await new Promise((r) => setTimeout(r, 0));
      time.advance(100);
    }
    assert.equal((await pending).rcode, 'SERVFAIL');
    assert.ok(sent.length > 1, 'the query was sent again before giving up');
    assert.equal(counters.upstream_timeouts, sent.length, 'each copy timed out');
  });

  it('shares one upstream query among identical concurrent misses', async () => {
    let respondLater: (() => void) | null = null;
    const { sent, ask, counters } = setup((q, send) => {
      respondLater = () => send(reply(q, { answers: [a('www.example.org', 300, '192.0.2.1')] }));
    });
    const all = Promise.all([1, 2, 3].map((id) => ask(query('www.example.org', 'A', { id }))));
    await new Promise((r) => setTimeout(r, 5));
    respondLater!();
    const replies = await all;
    assert.deepEqual(replies.map((r) => r.id), [1, 2, 3]);
    assert.equal(sent.length, 1);
    assert.equal(counters.coalesced, 2);
  });
});

describe('an upstream that answers SERVFAIL', () => {
  it('is asked once per query, not once per attempt, and its SERVFAIL is passed on', async () => {
    const { sent, ask } = setup((q, send) => send(reply(q, { rcode: 'SERVFAIL' })));
    const r = await ask(query('broken.example.org'));
    assert.equal(r.rcode, 'SERVFAIL');
    assert.equal(sent.length, 1);
  });
});
