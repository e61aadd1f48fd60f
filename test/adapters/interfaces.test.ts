// The interface adapter of the runtime running this file, on this machine's real interfaces,
// and the shared conversion of what Node and Deno report.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as bunInterfaces from '../../src/adapters/bun/interfaces.ts';
import * as denoInterfaces from '../../src/adapters/deno/interfaces.ts';
import * as nodeInterfaces from '../../src/adapters/node/interfaces.ts';
import { subnetFrom } from '../../src/adapters/shared/interfaces.ts';
import { runtimeName } from '../helpers/runtime.ts';

const { interfaceSubnets } = runtimeName === 'deno' ? denoInterfaces : runtimeName === 'bun' ? bunInterfaces : nodeInterfaces;

describe(`interfaces adapter (${runtimeName})`, () => {
  it('lists loopback with its prefix length', () => {
    const all = interfaceSubnets();
    const lo = all.find((s) => s.address === '127.0.0.1');
    assert.ok(lo, `127.0.0.1 among ${JSON.stringify(all)}`);
    assert.equal(lo.prefixBits, 8);
    assert.equal(lo.family, 4);
    assert.equal(typeof lo.name, 'string');
    for (const s of all) {
      assert.ok(s.family === 4 || s.family === 6, JSON.stringify(s));
      assert.ok(Number.isInteger(s.prefixBits) && s.prefixBits >= 0 && s.prefixBits <= (s.family === 4 ? 32 : 128), JSON.stringify(s));
      assert.ok(!s.address.includes('%') && !s.address.includes('/'), JSON.stringify(s));
      assert.equal(s.address.includes(':'), s.family === 6, JSON.stringify(s));
    }
  });
});

describe('what the runtimes report, as interface subnets', () => {
  it('reads Node and Deno entries, old numeric families included', () => {
    assert.deepEqual(subnetFrom('eth0', { address: '192.0.2.2', family: 'IPv4', cidr: '192.0.2.2/24' }), {
      name: 'eth0',
      address: '192.0.2.2',
      prefixBits: 24,
      family: 4,
    });
    assert.deepEqual(subnetFrom('eth0', { address: 'fe80::1%eth0', family: 6, cidr: 'fe80::1/64' }), {
      name: 'eth0',
      address: 'fe80::1',
      prefixBits: 64,
      family: 6,
    });
  });

  it('skips an address without a prefix (a netmask that is not one) or of an unknown family', () => {
    assert.equal(subnetFrom('eth0', { address: '192.0.2.2', family: 'IPv4', cidr: null }), null);
    assert.equal(subnetFrom('eth0', { address: '192.0.2.2', family: 'IPX', cidr: '192.0.2.2/24' }), null);
    assert.equal(subnetFrom('eth0', { address: '192.0.2.2', family: 'IPv4', cidr: '192.0.2.2' }), null);
  });
});
