import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nameserversFrom, upstreamsFrom, upstreamsFromSystem, SYSTEM_RESOLV_FILES } from '../../src/server/resolv-conf.ts';
import { parseUpstream } from '../../src/upstreams/spec.ts';

const NOT_53 = [{ address: '127.0.0.1', port: 5353 }];

describe('nameserversFrom', () => {
  it('turns nameserver lines into udp:// upstreams on port 53, in order', () => {
    const text = 'search lan\nnameserver 192.0.2.1\noptions edns0\nnameserver 2001:db8::53\n';
    assert.deepEqual(nameserversFrom(text, NOT_53), ['udp://192.0.2.1:53', 'udp://[2001:db8::53]:53']);
  });

  it('ignores comments, blank lines, other keywords and CRLF line ends', () => {
    const text = '# nameserver 192.0.2.9\n; nameserver 192.0.2.8\n\n  nameserver\t192.0.2.1  # ours\nnameservers 192.0.2.7\nnameserver\r\n';
    assert.deepEqual(nameserversFrom(text, NOT_53), ['udp://192.0.2.1:53']);
  });

  it('#2 - reads a CRLF line that ends in a comment', () => {
    assert.deepEqual(nameserversFrom('nameserver 192.0.2.5 # the router\r\n', NOT_53), ['udp://192.0.2.5:53']);
  });

  it('skips a nameserver that is one of our own port-53 addresses', () => {
    const own = [{ address: '127.0.0.1', port: 53 }];
    assert.deepEqual(nameserversFrom('nameserver 127.0.0.1\nnameserver 192.0.2.1\n', own), ['udp://192.0.2.1:53']);
    assert.deepEqual(nameserversFrom('nameserver 127.0.0.1\n', [{ address: '127.0.0.1', port: 5353 }]), ['udp://127.0.0.1:53']);
  });

  it('#2 - keeps remote nameservers when we listen on a wildcard address, skipping only loopback ones', () => {
    const text = 'nameserver 127.0.0.53\nnameserver ::1\nnameserver 192.0.2.1\nnameserver 2001:db8::1\n';
    assert.deepEqual(nameserversFrom(text, [{ address: '0.0.0.0', port: 53 }]), ['udp://[::1]:53', 'udp://192.0.2.1:53', 'udp://[2001:db8::1]:53']);
    assert.deepEqual(nameserversFrom(text, [{ address: '::', port: 53 }]), ['udp://127.0.0.53:53', 'udp://192.0.2.1:53', 'udp://[2001:db8::1]:53']);
    const both = [{ address: '0.0.0.0', port: 53 }, { address: '::', port: 53 }];
    assert.deepEqual(nameserversFrom(text, both), ['udp://192.0.2.1:53', 'udp://[2001:db8::1]:53']);
  });

  it('#2 - gives only upstreams that parseUpstream accepts, scoped IPv6 addresses included', () => {
    const found = nameserversFrom('nameserver fe80::1%eth0\nnameserver 192.0.2.1\n', NOT_53);
    assert.equal(found.length, 2);
    for (const u of found) assert.doesNotThrow(() => parseUpstream(u), u);
    assert.equal(parseUpstream(found[0]).address, 'fe80::1%eth0');
  });
});

/** A file system holding only `files`. */
const fakeFs = (files: Record<string, string>) => ({ readText: async (path: string) => files[path] ?? null });

describe('upstreamsFrom and upstreamsFromSystem', () => {
  it("#10 - never forwards to a resolver on this machine: OpenWrt's 127.0.0.1 (dnsmasq) is left out", () => {
    const openwrt = 'search lan\nnameserver 127.0.0.1\nnameserver ::1\n';
    assert.deepEqual(upstreamsFrom(openwrt, []), { upstreams: [], skipped: ['127.0.0.1', '::1'] });
    const mixed = 'nameserver 127.0.0.53\nnameserver 0.0.0.0\nnameserver ::ffff:127.0.0.1\nnameserver 0:0:0:0:0:0:0:1\nnameserver 192.0.2.1\n';
    assert.deepEqual(upstreamsFrom(mixed, []).upstreams, ['udp://192.0.2.1:53']);
  });

  it('#10 - leaves out the addresses of this machine (a dnsmasq on the LAN address forwarding to us)', () => {
    const text = 'nameserver 192.168.1.1\nnameserver fe80::1%br-lan\nnameserver 192.0.2.1\n';
    const r = upstreamsFrom(text, ['192.168.1.1', 'FE80::1']);
    assert.deepEqual(r, { upstreams: ['udp://192.0.2.1:53'], skipped: ['192.168.1.1', 'fe80::1%br-lan'] });
  });

  it("#10 - reads OpenWrt's resolv.conf.auto (the WAN's resolvers) before /etc/resolv.conf", async () => {
    const fs = fakeFs({
      '/etc/resolv.conf': 'nameserver 127.0.0.1\n',
      '/tmp/resolv.conf.d/resolv.conf.auto': '# Interface wan\nnameserver 198.51.100.1\nnameserver 198.51.100.2\n',
    });
    assert.deepEqual(await upstreamsFromSystem(fs, []), {
      file: '/tmp/resolv.conf.d/resolv.conf.auto',
      upstreams: ['udp://198.51.100.1:53', 'udp://198.51.100.2:53'],
      skipped: [],
    });
    // Older OpenWrt keeps it in /tmp/resolv.conf.auto.
    const old = fakeFs({ '/etc/resolv.conf': 'nameserver 127.0.0.1\n', '/tmp/resolv.conf.auto': 'nameserver 198.51.100.3\n' });
    assert.equal((await upstreamsFromSystem(old, [])).file, '/tmp/resolv.conf.auto');
  });

  it('falls through a file that names only local resolvers, saying what it left out', async () => {
    const fs = fakeFs({
      '/tmp/resolv.conf.d/resolv.conf.auto': '# WAN down: nothing yet\n',
      '/etc/resolv.conf': 'nameserver 127.0.0.53\n',
      '/run/systemd/resolve/resolv.conf': 'nameserver 203.0.113.9\n',
    });
    assert.deepEqual(await upstreamsFromSystem(fs, []), {
      file: '/run/systemd/resolve/resolv.conf',
      upstreams: ['udp://203.0.113.9:53'],
      skipped: ['127.0.0.53 in /etc/resolv.conf'],
    });
    assert.deepEqual(await upstreamsFromSystem(fakeFs({ '/etc/resolv.conf': 'nameserver 127.0.0.1\n' }), []), {
      file: null,
      upstreams: [],
      skipped: ['127.0.0.1 in /etc/resolv.conf'],
    });
  });

  it('prefers an administrator\'s /etc/resolv.conf to systemd-resolved\'s list', async () => {
    const fs = fakeFs({ '/etc/resolv.conf': 'nameserver 192.0.2.53\n', '/run/systemd/resolve/resolv.conf': 'nameserver 203.0.113.9\n' });
    assert.equal((await upstreamsFromSystem(fs, [])).file, '/etc/resolv.conf');
    assert.equal(SYSTEM_RESOLV_FILES.indexOf('/etc/resolv.conf') < SYSTEM_RESOLV_FILES.indexOf('/run/systemd/resolve/resolv.conf'), true);
  });
});
