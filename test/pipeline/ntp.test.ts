// #12: the NTP servers' names through the plain bootstrap while the encrypted upstreams fail
// (a clock wrong at boot makes every certificate look not yet valid), and only those names.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG, type ServerConfig } from '../../src/config/config.ts';
import { createCounters } from '../../src/core/counters.ts';
import { parseQuery } from '../../src/core/wire/query.ts';
import { createPipeline } from '../../src/pipeline/chain.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';
import { createFakeNet } from '../helpers/fake-net.ts';
import { decode, reply } from '../helpers/packets.ts';
import { rawQuery } from '../helpers/wire-build.ts';

function setup(ntpNames: string[]) {
  const time = createFakeTime();
  // The DoT upstream refuses every connection (no TLS server there); the bootstrap answers.
  const fake = createFakeNet({
    '192.0.2.53:53': {
      udp: (q, send) => send(reply(q, { answers: [{ type: 'A', name: decode(q).questions[0].name, ttl: 3600, class: 'IN', data: '203.0.113.123' }] })),
    },
  });
  const config: ServerConfig = {
    ...DEFAULT_CONFIG,
    upstreams: ['tls://192.0.2.1#dns.example'],
    encryptedUpstream: { ...DEFAULT_CONFIG.encryptedUpstream, bootstrap: ['udp://192.0.2.53'], ntpNames },
  };
  let ids = 1;
  const p = createPipeline(config, { clock: time, timers: time, entropy: { random: () => 0.5, id16: () => ids++ }, net: fake.net }, createCounters());
  const ask = async (name: string) => {
    const r = parseQuery(rawQuery(name));
    assert.ok(r.ok);
    return p.chain({ query: r.query, client: { address: '192.168.1.10', port: 1, transport: 'udp' } });
  };
  const plainAsked = () => fake.sent.filter((s) => s.to === '192.0.2.53:53').map((s) => decode(s.bytes).questions[0].name);
  return { ask, plainAsked };
}

describe('#12 - NTP server names through the bootstrap', () => {
  it('answers an NTP server name from the plain bootstrap when the encrypted upstream fails, with a short TTL', async () => {
    const s = setup(['0.openwrt.pool.ntp.org']);
    const a = await s.ask('0.OpenWrt.pool.ntp.org');
    assert.equal(a.rcode, 0);
    assert.match(a.reason, /NTP server name through bootstrap udp:\/\/192\.0\.2\.53/);
    const answers = decode(a.message!.wire).answers;
    assert.equal(answers[0].data, '203.0.113.123');
    assert.ok(answers[0].ttl! <= 60, 'kept briefly');
    assert.deepEqual(s.plainAsked(), ['0.OpenWrt.pool.ntp.org']);
  });

  it('never sends another name in plain DNS', async () => {
    const s = setup(['0.openwrt.pool.ntp.org']);
    await s.ask('bank.example').then(
      (a) => assert.notEqual(a.rcode, 0),
      () => {},
    );
    assert.deepEqual(s.plainAsked(), []);
  });

  it('sends nothing in plain DNS without --ntp-name', async () => {
    const s = setup([]);
    await s.ask('0.openwrt.pool.ntp.org').then(
      (a) => assert.notEqual(a.rcode, 0),
      () => {},
    );
    assert.deepEqual(s.plainAsked(), []);
  });
});
