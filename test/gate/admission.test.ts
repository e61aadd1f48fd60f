import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientInfo } from '../../src/core/answer.ts';
import { DEFAULT_CONFIG, type ServerConfig } from '../../src/config/config.ts';
import { createCounters } from '../../src/core/counters.ts';
import { ErrorCode, isHoldfastError } from '../../src/core/errors.ts';
import { Admit, createHandle } from '../../src/core/handle.ts';
import { createAdmission } from '../../src/gate/admission.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';
import { decode } from '../helpers/packets.ts';
import { rawQuery } from '../helpers/wire-build.ts';

type Access = ServerConfig['access'];
type Limits = ServerConfig['rateLimit'];

function setup(access: Partial<Access> = {}, limits: Partial<Limits> = {}) {
  const time = createFakeTime();
  const counters = createCounters();
  const admission = createAdmission({ ...DEFAULT_CONFIG.access, ...access }, { ...DEFAULT_CONFIG.rateLimit, ...limits }, time, counters);
  return { time, counters, admission };
}

const udp = (address: string): ClientInfo => ({ address, port: 40000, transport: 'udp' });
const tcp = (address: string): ClientInfo => ({ address, port: 40000, transport: 'tcp' });

/** How many of `n` messages from `client` are answered. */
function answered(admit: (c: ClientInfo) => number, client: ClientInfo, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (admit(client) === Admit.answer) ok++;
  return ok;
}

const SMALL = { perClientQps: 10, perClientBurst: 5, exempt: ['none'] };

describe('access lists', () => {
  it('answers loopback, private and link-local clients by default, in both families and mapped', () => {
    const { admission, counters } = setup();
    for (const a of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.50', '169.254.3.4', '::1', 'fd00::5', 'fe80::1%br-lan', '::ffff:192.168.1.50']) {
      assert.equal(admission.admit(udp(a)), Admit.answer, a);
    }
    assert.equal(counters.acl_refused, 0);
  });

  it('refuses public and carrier-grade NAT clients by default, and counts them', () => {
    const { admission, counters } = setup();
    for (const a of ['8.8.8.8', '100.64.0.1', '2001:db8::1', '::ffff:8.8.8.8']) assert.equal(admission.admit(udp(a)), Admit.refuse, a);
    assert.equal(counters.acl_refused, 4);
    assert.equal(counters.acl_dropped, 0);
  });

  it('sends nothing to a refused client when the refuse action is drop', () => {
    const { admission, counters } = setup({ refuseAction: 'drop' });
    assert.equal(admission.admit(udp('203.0.113.1')), Admit.drop);
    assert.equal(counters.acl_dropped, 1);
    assert.equal(counters.acl_refused, 0);
  });

  it('lets deny win over allow', () => {
    const { admission } = setup({ deny: ['192.168.1.0/24', 'fd00::/8'] });
    assert.equal(admission.admit(udp('192.168.1.9')), Admit.refuse);
    assert.equal(admission.admit(udp('::ffff:192.168.1.9')), Admit.refuse);
    assert.equal(admission.admit(udp('fd00::9')), Admit.refuse);
    assert.equal(admission.admit(udp('192.168.2.9')), Admit.answer);
  });

  it('replaces the private ranges with an explicit allow list', () => {
    const { admission } = setup({ allow: ['203.0.113.0/24'] });
    assert.equal(admission.admit(udp('203.0.113.7')), Admit.answer);
    assert.equal(admission.admit(udp('192.168.1.1')), Admit.refuse);
    assert.equal(admission.admit(udp('127.0.0.1')), Admit.refuse);
  });

  it('keeps the private ranges when "private" is listed beside other prefixes', () => {
    const { admission } = setup({ allow: ['private', '100.64.0.0/10'] });
    assert.equal(admission.admit(udp('100.100.1.1')), Admit.answer);
    assert.equal(admission.admit(udp('192.168.1.1')), Admit.answer);
    assert.equal(admission.admit(udp('8.8.8.8')), Admit.refuse);
  });

  it('refuses a client whose address cannot be read', () => {
    const { admission } = setup();
    assert.equal(admission.admit(udp('')), Admit.refuse);
    assert.equal(admission.admit(udp('not-an-address')), Admit.refuse);
  });

  it('names the config key of a bad prefix, and an allow list that lists nothing', () => {
    const named = (key: string) => (e: unknown) => isHoldfastError(e, ErrorCode.config) && e.message.startsWith(`config: ${key} `);
    assert.throws(() => setup({ allow: ['private', '10.0.0.0/33'] }), named('access.allow[1]'));
    assert.throws(() => setup({ deny: ['nonsense'] }), named('access.deny[0]'));
    assert.throws(() => setup({}, { exempt: ['127.0.0.1/40'] }), named('rateLimit.exempt[0]'));
    assert.throws(() => setup({ allow: ['none'] }), named('access.allow'));
    assert.throws(() => setup({ deny: ['10.0.0.0/8', 'local'] }), named('access.deny[1]'));
    assert.throws(() => setup({}, { exempt: ['local'] }), named('rateLimit.exempt[0]'));
  });
});

describe('per-client rate limits', () => {
  it('limits one client without touching another', () => {
    const { admission, counters } = setup({}, SMALL);
    assert.equal(answered(admission.admit, udp('192.168.1.5'), 20), 5);
    assert.equal(answered(admission.admit, udp('192.168.1.6'), 5), 5);
    assert.equal(counters.rate_limited_truncated, 15);
  });

  it('refills at the configured rate', () => {
    const { admission, time } = setup({}, SMALL);
    answered(admission.admit, udp('10.0.0.5'), 5);
    time.advance(300);
    assert.equal(answered(admission.admit, udp('10.0.0.5'), 10), 3);
  });

  it('truncates over UDP and refuses over TCP with the default action', () => {
    const { admission, counters } = setup({}, SMALL);
    answered(admission.admit, udp('10.0.0.5'), 5);
    assert.equal(admission.admit(udp('10.0.0.5')), Admit.truncate);
    answered(admission.admit, tcp('10.0.0.5'), 5);
    assert.equal(admission.admit(tcp('10.0.0.5')), Admit.refuse);
    assert.equal(counters.rate_limited_truncated, 1);
    assert.equal(counters.rate_limited_refused, 1);
  });

  it('gives TCP its own bucket, so a client told to retry over TCP is answered there', () => {
    const { admission } = setup({}, SMALL);
    answered(admission.admit, udp('10.0.0.5'), 50);
    assert.equal(admission.admit(tcp('10.0.0.5')), Admit.answer);
  });

  it('drops or refuses as configured', () => {
    const drop = setup({}, { ...SMALL, action: 'drop' });
    answered(drop.admission.admit, udp('10.0.0.5'), 5);
    assert.equal(drop.admission.admit(udp('10.0.0.5')), Admit.drop);
    assert.equal(drop.admission.admit(tcp('10.0.0.5')), Admit.answer);
    assert.equal(drop.counters.rate_limited_dropped, 1);
    const refuse = setup({}, { ...SMALL, action: 'refuse' });
    answered(refuse.admission.admit, udp('10.0.0.5'), 5);
    assert.equal(refuse.admission.admit(udp('10.0.0.5')), Admit.refuse);
    assert.equal(refuse.counters.rate_limited_refused, 1);
  });

  it('exempts loopback by default', () => {
    const { admission, counters } = setup({}, { perClientQps: 10, perClientBurst: 5 });
    assert.equal(answered(admission.admit, udp('127.0.0.1'), 1000), 1000);
    assert.equal(answered(admission.admit, udp('::1'), 1000), 1000);
    assert.equal(answered(admission.admit, udp('::ffff:127.0.0.9'), 1000), 1000);
    assert.equal(answered(admission.admit, udp('192.168.1.1'), 1000), 5);
    assert.equal(counters.rate_limited_truncated, 995);
    assert.equal(admission.trackedClients(), 1);
  });

  it('limits loopback when the exempt list is replaced', () => {
    const { admission } = setup({}, { perClientQps: 10, perClientBurst: 5, exempt: ['192.168.1.1/32'] });
    assert.equal(answered(admission.admit, udp('127.0.0.1'), 100), 5);
    assert.equal(answered(admission.admit, udp('192.168.1.1'), 100), 100);
  });

  it('counts an IPv4 client per address and an IPv6 client per /64, by default', () => {
    const { admission } = setup({}, SMALL);
    assert.equal(answered(admission.admit, udp('192.168.1.5'), 5), 5);
    assert.equal(answered(admission.admit, udp('192.168.1.7'), 5), 5);
    assert.equal(answered(admission.admit, udp('fd00:1:2:3::1'), 3), 3);
    // Another address in the same /64 shares the bucket; the next /64 has its own.
    assert.equal(answered(admission.admit, udp('fd00:1:2:3:ffff::2'), 5), 2);
    assert.equal(answered(admission.admit, udp('fd00:1:2:4::1'), 5), 5);
  });

  it('counts clients by the configured prefix lengths', () => {
    const { admission } = setup({}, { ...SMALL, ipv4PrefixBits: 24, ipv6PrefixBits: 128 });
    assert.equal(answered(admission.admit, udp('192.168.1.5'), 3), 3);
    assert.equal(answered(admission.admit, udp('192.168.1.200'), 5), 2);
    assert.equal(answered(admission.admit, udp('fd00::1'), 5), 5);
    assert.equal(answered(admission.admit, udp('fd00::2'), 5), 5);
  });

  it('holds bounded state for a flood from ever-new addresses, and counts what it forgets', () => {
    const { admission, counters } = setup({ allow: ['0.0.0.0/0', '::/0'] }, { ...SMALL, maxTrackedClients: 100 });
    for (let i = 0; i < 5000; i++) {
      admission.admit(udp(`198.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
      admission.admit(udp(`2001:db8:${i.toString(16)}::1`));
    }
    assert.equal(admission.trackedClients(), 100);
    assert.equal(counters.rate_limit_evictions, 10_000 - 100);
  });

  it('does nothing at all with a rate of 0', () => {
    const { admission } = setup({}, { ...SMALL, perClientQps: 0 });
    assert.equal(answered(admission.admit, udp('10.0.0.1'), 1000), 1000);
    assert.equal(admission.trackedClients(), 0);
  });

  it('applies the access list before any limit: a refused client uses no bucket', () => {
    const { admission } = setup({ refusedPerSecond: 0 }, SMALL);
    for (let i = 0; i < 50; i++) assert.equal(admission.admit(udp('8.8.8.8')), Admit.refuse);
    assert.equal(admission.trackedClients(), 0);
  });
});

describe('global rate limit', () => {
  const GLOBAL = { perClientQps: 0, globalQps: 10, globalBurst: 8, exempt: ['none'] };

  it('limits all clients together', () => {
    const { admission, counters } = setup({}, GLOBAL);
    assert.equal(answered(admission.admit, udp('10.0.0.1'), 5), 5);
    assert.equal(answered(admission.admit, udp('10.0.0.2'), 5), 3);
    assert.equal(counters.rate_limited_global, 2);
    assert.equal(counters.rate_limited_truncated, 2);
  });

  it('leaves exempt clients out of the global count', () => {
    const { admission } = setup({}, { ...GLOBAL, exempt: ['127.0.0.0/8'] });
    assert.equal(answered(admission.admit, udp('127.0.0.1'), 100), 100);
    assert.equal(answered(admission.admit, udp('10.0.0.1'), 100), 8);
  });

  it('gives a client its own token back when only the global limit said no', () => {
    // The client's own bucket refills far slower than the global one.
    const { admission, time } = setup({}, { ...GLOBAL, perClientQps: 1, perClientBurst: 5 });
    // 10.0.0.1 uses 4 of its 5 and the global 8 run out through others.
    answered(admission.admit, udp('10.0.0.1'), 4);
    answered(admission.admit, udp('10.0.0.2'), 4);
    assert.equal(admission.admit(udp('10.0.0.1')), Admit.truncate);
    // 100 ms later the global bucket has one token; 10.0.0.1 still has its fifth.
    time.advance(100);
    assert.equal(admission.admit(udp('10.0.0.1')), Admit.answer);
  });
});

describe('TCP connections per client', () => {
  it('caps open connections per client and frees a slot when one closes', () => {
    const { admission, counters } = setup({}, { tcpConnectionsPerClient: 2, exempt: ['none'] });
    const a = admission.admitConnection('192.168.1.5');
    const b = admission.admitConnection('192.168.1.5');
    assert.ok(a && b);
    assert.equal(a.refused, false);
    assert.equal(admission.admitConnection('192.168.1.5'), null);
    assert.equal(counters.tcp_client_connections_refused, 1);
    assert.ok(admission.admitConnection('192.168.1.6'), 'another client is not affected');
    a.release();
    a.release(); // a second release of the same connection frees nothing more
    assert.ok(admission.admitConnection('192.168.1.5'));
    assert.equal(admission.admitConnection('192.168.1.5'), null);
  });

  it('exempts loopback by default', () => {
    const { admission } = setup({}, { tcpConnectionsPerClient: 1 });
    for (let i = 0; i < 10; i++) assert.ok(admission.admitConnection('127.0.0.1'));
  });

  it('closes a denied client at once when the refuse action is drop, and lets it in to be refused otherwise', () => {
    const dropped = setup({ refuseAction: 'drop' });
    assert.equal(dropped.admission.admitConnection('8.8.8.8'), null);
    assert.equal(dropped.counters.acl_dropped, 1);
    const refused = setup();
    assert.equal(refused.admission.admitConnection('8.8.8.8')?.refused, true, 'let in only to be told REFUSED once');
  });

  it('counts a denied client connections against the per-client cap too', () => {
    const { admission, counters } = setup({}, { tcpConnectionsPerClient: 2 });
    assert.ok(admission.admitConnection('8.8.8.8'));
    assert.ok(admission.admitConnection('8.8.8.8'));
    assert.equal(admission.admitConnection('8.8.8.8'), null);
    assert.equal(counters.tcp_client_connections_refused, 1);
  });

  it('closes a connection whose address cannot be read', () => {
    const { admission, counters } = setup();
    assert.equal(admission.admitConnection(''), null);
    assert.equal(counters.acl_dropped, 1);
  });
});

describe('admission through handle()', () => {
  it('refuses a public client and answers a private one with the default configuration', async () => {
    const { admission, counters } = setup();
    let reached = 0;
    const handle = createHandle(
      () => {
        reached++;
        return { source: 'synthetic', reason: 'test', rcode: 3, message: null, ageSeconds: 0 };
      },
      counters,
      { admit: admission.admitFrom },
    );
    assert.equal(decode((await handle(rawQuery('a.example'), udp('198.51.100.4')))!).rcode, 'REFUSED');
    assert.equal(decode((await handle(rawQuery('a.example'), udp('2001:db8::4')))!).rcode, 'REFUSED');
    assert.equal(reached, 0);
    assert.equal(decode((await handle(rawQuery('a.example'), udp('192.168.1.4')))!).rcode, 'NXDOMAIN');
    assert.equal(reached, 1);
    assert.equal(counters.acl_refused, 2);
  });
});

describe('#15 - REFUSED replies over UDP are rate-limited (no reflection with forged sources)', () => {
  it('sends at most refusedPerSecond REFUSED replies a second over UDP, drops and counts the rest', () => {
    const { admission, counters, time } = setup({ refusedPerSecond: 20 });
    const actions = Array.from({ length: 1_000 }, (_, i) => admission.admit(udp(`203.0.${i >> 8}.${i & 255}`)));
    assert.equal(actions.filter((a) => a === Admit.refuse).length, 20);
    assert.equal(actions.filter((a) => a === Admit.drop).length, 980);
    assert.equal(counters.acl_refused, 20);
    assert.equal(counters.acl_refused_limited, 980);
    time.advance(1_000);
    assert.equal(admission.admit(udp('8.8.8.8')), Admit.refuse, 'a refused LAN device still sees REFUSED once the second has passed');
  });

  it('limits REFUSED by default and never over TCP, where the source is proven', () => {
    const { admission, counters } = setup();
    let refused = 0;
    for (let i = 0; i < 500; i++) if (admission.admit(udp('8.8.8.8')) === Admit.refuse) refused++;
    assert.ok(refused > 0 && refused <= 50, `${refused} REFUSED sent for 500 queries`);
    for (let i = 0; i < 500; i++) assert.equal(admission.admit(tcp('8.8.8.8')), Admit.refuse);
    assert.equal(counters.acl_refused_limited, 500 - refused);
  });

  it('leaves allowed clients alone', () => {
    const { admission } = setup({ refusedPerSecond: 1 });
    for (let i = 0; i < 100; i++) admission.admit(udp('8.8.8.8'));
    assert.equal(answered(admission.admit, udp('192.168.1.2'), 100), 100);
  });
});
