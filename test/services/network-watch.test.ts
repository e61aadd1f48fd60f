// #12: the interface watch that notices a WAN change, with a fake clock and a list of
// addresses the test changes.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InterfaceSubnet } from '../../src/core/ports.ts';
import { createNetworkWatch } from '../../src/services/network-watch.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';

function setup(intervalMs = 5_000) {
  const time = createFakeTime();
  let subnets: InterfaceSubnet[] = [
    { name: 'lo', address: '127.0.0.1', prefixBits: 8, family: 4 },
    { name: 'pppoe-wan', address: '198.51.100.7', prefixBits: 32, family: 4 },
  ];
  const changes: string[] = [];
  const watch = createNetworkWatch({ intervalMs, quietMs: 1_000 }, () => subnets, time, () => time.now(), (why) => changes.push(why));
  return {
    time,
    changes,
    watch,
    setWan(address: string | null) {
      subnets = subnets.filter((s) => s.name !== 'pppoe-wan');
      if (address) subnets.push({ name: 'pppoe-wan', address, prefixBits: 32, family: 4 });
    },
  };
}

describe('#12 - the network watch', () => {
  it('reports a new WAN address at the next reading, and nothing while the addresses stay', () => {
    const s = setup();
    s.watch.start();
    s.time.advance(15_000);
    assert.deepEqual(s.changes, []);
    s.setWan('203.0.113.9');
    s.time.advance(5_000);
    assert.deepEqual(s.changes, ['the interface addresses changed']);
    s.time.advance(20_000);
    assert.equal(s.changes.length, 1);
    s.watch.stop();
  });

  it('takes a change it was told of as the new base, and merges changes within a second', () => {
    const s = setup();
    s.watch.start();
    s.setWan(null);
    s.watch.changed('SIGUSR2');
    s.time.advance(500);
    s.setWan('203.0.113.9');
    s.watch.changed('SIGUSR2');
    assert.deepEqual(s.changes, ['SIGUSR2'], 'the second call is the same reconnect');
    s.time.advance(5_000);
    assert.deepEqual(s.changes, ['SIGUSR2'], 'the watch does not report what it was told of');
    s.watch.stop();
  });

  it('reads nothing on a timer when its interval is 0', () => {
    const s = setup(0);
    s.watch.start();
    s.setWan('203.0.113.9');
    s.time.advance(60_000);
    assert.deepEqual(s.changes, []);
  });
});
