import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientInfo } from '../../src/core/answer.ts';
import { DEFAULT_CONFIG } from '../../src/config/config.ts';
import { createCounters } from '../../src/core/counters.ts';
import { Admit } from '../../src/core/handle.ts';
import type { InterfaceSubnet } from '../../src/core/ports.ts';
import { createAdmission } from '../../src/gate/admission.ts';
import { formatCidr, type Cidr } from '../../src/core/net/cidr.ts';
import { createLocalSubnetsWatcher, localPrefixesFrom, type LocalSubnetsEvent } from '../../src/services/local-subnets.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';

/** "ADDR/BITS on NAME" as the runtime would report it. */
function iface(text: string, name = 'br-lan'): InterfaceSubnet {
  const [address, bits] = text.split('/');
  return { name, address, prefixBits: Number(bits), family: address.includes(':') ? 6 : 4 };
}

/** A router's interfaces: loopback, the LAN bridge with a delegated IPv6 prefix, the WAN. */
const ROUTER = [
  iface('127.0.0.1/8', 'lo'),
  iface('::1/128', 'lo'),
  iface('192.168.1.1/24'),
  iface('2001:db8:1234:5678::1/64'),
  iface('fe80::1/64'),
  iface('fd12:3456:789a::1/64'),
  iface('198.51.100.23/22', 'wan'),
];

describe('the prefixes of the interfaces', () => {
  it('takes each on-link prefix once, host bits cleared, IPv4 first and sorted', () => {
    const p = localPrefixesFrom([...ROUTER, iface('192.168.1.2/24', 'br-lan2'), iface('fe80::2/64', 'wan')]);
    assert.deepEqual(p.texts, [
      '127.0.0.0/8',
      '192.168.1.0/24',
      '198.51.100.0/22',
      '2001:db8:1234:5678::/64',
      '::1/128',
      'fd12:3456:789a::/64',
      'fe80::/64',
    ]);
    assert.deepEqual(p.cidrs.map(formatCidr), p.texts);
    assert.deepEqual(p.ignored, []);
  });

  it('passes over prefixes too broad to be a LAN: a tunnel /16 or /32, a /0, a short IPv4 mask', () => {
    const p = localPrefixesFrom([
      iface('2002:c633:6401::1/16', '6to4'),
      iface('2001:0:53aa:64c:0:1234:5678:9abc/32', 'teredo'),
      iface('203.0.113.9/0', 'tun0'),
      iface('203.0.113.9/15', 'tun1'),
      iface('2001:db8:aa::1/48'),
      iface('203.0.113.9/16'),
    ]);
    assert.deepEqual(p.texts, ['203.0.0.0/16', '2001:db8:aa::/48']);
    assert.deepEqual(p.ignored, ['2001:0:53aa:64c:0:1234:5678:9abc/32 on teredo', '2002:c633:6401::1/16 on 6to4', '203.0.113.9/0 on tun0', '203.0.113.9/15 on tun1']);
  });

  it('takes a short prefix inside a private range, which never reaches strangers', () => {
    const p = localPrefixesFrom([iface('127.0.0.1/8', 'lo'), iface('10.1.2.3/8'), iface('fd00::1/8')]);
    assert.deepEqual(p.texts, ['10.0.0.0/8', '127.0.0.0/8', 'fd00::/8']);
    assert.deepEqual(p.ignored, []);
  });

  it('skips an address it cannot read rather than failing the whole list', () => {
    const p = localPrefixesFrom([iface('not-an-address/24'), iface('192.168.1.1/24')]);
    assert.deepEqual(p.texts, ['192.168.1.0/24']);
  });
});

/** A watcher over an interface list the test changes, with every apply() and event kept. */
function watch(initial: InterfaceSubnet[] | Error, intervalMs = 60_000) {
  const time = createFakeTime();
  let list: InterfaceSubnet[] | Error = initial;
  let reads = 0;
  const applied: string[][] = [];
  const events: LocalSubnetsEvent[] = [];
  const watcher = createLocalSubnetsWatcher(
    { intervalMs },
    () => {
      reads++;
      if (list instanceof Error) throw list;
      return list;
    },
    time,
    (cidrs: readonly Cidr[]) => applied.push(cidrs.map(formatCidr)),
    (e) => events.push(e),
  );
  return {
    time,
    watcher,
    applied,
    events,
    reads: () => reads,
    set(next: InterfaceSubnet[] | Error) {
      list = next;
    },
  };
}

describe('watching the interfaces', () => {
  it('applies the first reading without reporting it: the start-up log says it', () => {
    const w = watch([iface('192.168.1.1/24'), iface('2001:db8:1::1/64')]);
    w.watcher.refresh();
    assert.deepEqual(w.applied, [['192.168.1.0/24', '2001:db8:1::/64']]);
    assert.deepEqual(w.events, []);
    assert.deepEqual(w.watcher.current().texts, ['192.168.1.0/24', '2001:db8:1::/64']);
  });

  it('picks up a renumbered prefix at the next reading, and reports what came and went', () => {
    const w = watch([iface('192.168.1.1/24'), iface('2001:db8:1::1/64')]);
    w.watcher.refresh();
    w.watcher.start();
    // The ISP delegates another prefix half-way through an interval.
    w.time.advance(30_000);
    w.set([iface('192.168.1.1/24'), iface('2001:db8:2::1/64')]);
    w.time.advance(29_999);
    assert.equal(w.applied.length, 1, 'nothing read before the interval is up');
    w.time.advance(1);
    assert.deepEqual(w.applied[1], ['192.168.1.0/24', '2001:db8:2::/64']);
    assert.deepEqual(w.events, [
      { kind: 'changed', subnets: ['192.168.1.0/24', '2001:db8:2::/64'], added: ['2001:db8:2::/64'], removed: ['2001:db8:1::/64'], ignored: [] },
    ]);
  });

  it('reads every interval but applies only changes', () => {
    const w = watch(ROUTER, 1_000);
    w.watcher.refresh();
    w.watcher.start();
    w.time.advance(10_000);
    assert.equal(w.reads(), 11);
    assert.equal(w.applied.length, 1);
    assert.deepEqual(w.events, []);
  });

  it('keeps the prefixes in force when a reading fails, and reports only the first failure of a run', () => {
    const w = watch([iface('2001:db8:1::1/64')], 1_000);
    w.watcher.refresh();
    w.watcher.start();
    w.set(new Error('permission denied'));
    w.time.advance(5_000);
    assert.deepEqual(w.events, [{ kind: 'failed', error: 'permission denied', subnets: ['2001:db8:1::/64'] }]);
    assert.deepEqual(w.watcher.current().texts, ['2001:db8:1::/64']);
    assert.equal(w.applied.length, 1);
    // Back again, with a new prefix; a later failure is reported afresh.
    w.set([iface('2001:db8:3::1/64')]);
    w.time.advance(1_000);
    w.set(new Error('gone again'));
    w.time.advance(1_000);
    assert.deepEqual(
      w.events.map((e) => e.kind),
      ['failed', 'changed', 'failed'],
    );
    assert.deepEqual(w.applied, [['2001:db8:1::/64'], ['2001:db8:3::/64']]);
  });

  it('reports a first reading that failed, and the prefixes once they can be read', () => {
    const w = watch(new Error('no permission to read interfaces'));
    w.watcher.refresh();
    w.watcher.start();
    assert.deepEqual(w.events, [{ kind: 'failed', error: 'no permission to read interfaces', subnets: [] }]);
    w.set([iface('192.168.1.1/24')]);
    w.time.advance(60_000);
    assert.equal(w.events[1].kind, 'changed');
    assert.deepEqual(w.applied, [['192.168.1.0/24']]);
  });

  it('stops reading once stopped, leaving no timer behind', () => {
    const w = watch(ROUTER);
    w.watcher.refresh();
    w.watcher.start();
    w.watcher.start();
    assert.equal(w.time.pendingTimers, 1);
    w.watcher.stop();
    assert.equal(w.time.pendingTimers, 0);
    w.time.advance(600_000);
    assert.equal(w.reads(), 1);
  });
});

const udp = (address: string): ClientInfo => ({ address, port: 40000, transport: 'udp' });

describe('admission with local subnets', () => {
  /** The default access list, with the interfaces read from a list the test changes. */
  function server(access: Partial<typeof DEFAULT_CONFIG.access> = {}) {
    const time = createFakeTime();
    const counters = createCounters();
    const admission = createAdmission({ ...DEFAULT_CONFIG.access, ...access }, { ...DEFAULT_CONFIG.rateLimit, perClientQps: 0 }, time, counters);
    let list = [iface('192.168.1.1/24'), iface('2001:db8:1234:5678::1/64'), iface('203.0.113.1/24', 'wan')];
    const watcher = createLocalSubnetsWatcher({ intervalMs: 60_000 }, () => list, time, admission.setLocalSubnets);
    watcher.refresh();
    watcher.start();
    return {
      admission,
      time,
      set(next: InterfaceSubnet[]) {
        list = next;
      },
    };
  }

  it('answers a LAN client with a global IPv6 address by default, and still refuses the Internet', () => {
    const { admission } = server();
    assert.equal(admission.usesLocal, true);
    assert.equal(admission.admit(udp('2001:db8:1234:5678:aaaa:bbbb:cccc:dddd')), Admit.answer);
    assert.equal(admission.admit(udp('192.168.1.50')), Admit.answer);
    assert.equal(admission.admit(udp('10.9.9.9')), Admit.answer, 'private ranges still count');
    // The WAN's subnet counts too, as with dnsmasq's local-service (see the README).
    assert.equal(admission.admit(udp('203.0.113.77')), Admit.answer);
    assert.equal(admission.admit(udp('2001:db8:1234:5679::1')), Admit.refuse);
    assert.equal(admission.admit(udp('8.8.8.8')), Admit.refuse);
  });

  it('follows a renumbered prefix: the old one refused, the new one answered, even for addresses already seen', () => {
    const { admission, time, set } = server();
    const oldClient = udp('2001:db8:1234:5678::abcd');
    const newClient = udp('2001:db8:9999:1::abcd');
    assert.equal(admission.admit(oldClient), Admit.answer);
    assert.equal(admission.admit(newClient), Admit.refuse);
    set([iface('192.168.1.1/24'), iface('2001:db8:9999:1::1/64')]);
    time.advance(59_999);
    // Until the next reading, the classifications made before stand.
    assert.equal(admission.admit(oldClient), Admit.answer);
    assert.equal(admission.admit(newClient), Admit.refuse);
    time.advance(1);
    assert.equal(admission.admit(oldClient), Admit.refuse);
    assert.equal(admission.admit(newClient), Admit.answer);
    assert.equal(admission.admit(udp('203.0.113.77')), Admit.refuse, 'the WAN went away too');
  });

  it('ignores the interfaces when the allow list does not say local', () => {
    const { admission, time, set } = server({ allow: ['private'] });
    assert.equal(admission.usesLocal, false);
    assert.equal(admission.admit(udp('2001:db8:1234:5678::abcd')), Admit.refuse);
    set([iface('2001:db8:9999:1::1/64')]);
    time.advance(60_000);
    assert.equal(admission.admit(udp('2001:db8:9999:1::abcd')), Admit.refuse);
    assert.equal(admission.admit(udp('192.168.1.50')), Admit.answer);
  });

  it('answers only the interfaces subnets with --allow local alone, and nobody before they are known', () => {
    const counters = createCounters();
    const time = createFakeTime();
    const admission = createAdmission({ ...DEFAULT_CONFIG.access, allow: ['local'] }, DEFAULT_CONFIG.rateLimit, time, counters);
    assert.equal(admission.admit(udp('2001:db8:1::5')), Admit.refuse);
    assert.equal(admission.admit(udp('192.168.1.50')), Admit.refuse);
    const w = createLocalSubnetsWatcher({ intervalMs: 60_000 }, () => [iface('2001:db8:1::1/64')], time, admission.setLocalSubnets);
    w.refresh();
    assert.equal(admission.admit(udp('2001:db8:1::5')), Admit.answer);
    assert.equal(admission.admit(udp('192.168.1.50')), Admit.refuse);
  });

  it('lets deny win over a local subnet', () => {
    const { admission } = server({ deny: ['2001:db8:1234:5678::66'] });
    assert.equal(admission.admit(udp('2001:db8:1234:5678::66')), Admit.refuse);
    assert.equal(admission.admit(udp('2001:db8:1234:5678::67')), Admit.answer);
  });
});
