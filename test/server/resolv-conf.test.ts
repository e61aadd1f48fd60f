import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nameserversFrom } from '../../src/server/resolv-conf.ts';
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
