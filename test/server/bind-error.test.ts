import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeBindError, describeBindErrorWithHolder, parseProcNet, userName } from '../../src/server/bind-error.ts';

const inUse = Object.assign(new Error('bind EADDRINUSE'), { code: 'EADDRINUSE' });

// Two lines as Linux writes them: avahi (uid 108) on 0.0.0.0:5353, and a socket of uid 0 on
// 127.0.0.1:5333.
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   108        0 4242 2 0000000000000000 0
  101: 0100007F:14D5 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4343 2 0000000000000000 0
`;
const UDP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   7: 00000000000000000000000001000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   108        0 4244 2 0000000000000000 0
`;
const PASSWD = 'root:x:0:0:root:/root:/bin/sh\navahi:x:108:116:Avahi mDNS daemon,,,:/run/avahi-daemon:/usr/sbin/nologin\n';

describe('bind errors', () => {
  it('#10 - names the usual holder of a taken port: mDNS on 5353, another DNS server on 53', () => {
    assert.match(describeBindError({ address: '127.0.0.1', port: 5353 }, inUse).message, /^listen: 127\.0\.0\.1:5353 is already in use; port 5353 is usually an mDNS responder \(avahi-daemon, umdns\)$/);
    assert.match(describeBindError({ address: '::1', port: 53 }, inUse).message, /\[::1\]:53 is already in use; .*another DNS server \(dnsmasq, systemd-resolved/);
    assert.equal(describeBindError({ address: '127.0.0.1', port: 5333 }, inUse).message, 'listen: 127.0.0.1:5333 is already in use');
  });

  it('reads /proc/net/udp and udp6 lines, IPv6 addresses compressed', () => {
    assert.deepEqual(
      parseProcNet(UDP).map((s) => [s.address, s.port, s.uid, s.inode]),
      [
        ['0.0.0.0', 5353, 108, 4242],
        ['127.0.0.1', 5333, 0, 4343],
      ],
    );
    assert.deepEqual(parseProcNet(UDP6).map((s) => [s.address, s.port]), [['::1', 5353]]);
  });

  it('#10 - names the user whose socket holds the port, from /proc and /etc/passwd', async () => {
    const files: Record<string, string> = { '/proc/net/udp': UDP, '/proc/net/udp6': UDP6, '/etc/passwd': PASSWD };
    const fs = { readText: async (p: string) => files[p] ?? null };
    const e = await describeBindErrorWithHolder(fs, { address: '127.0.0.1', port: 5353 }, 'udp', inUse);
    assert.equal(e.message, 'listen: 127.0.0.1:5353 is already in use; port 5353 is usually an mDNS responder (avahi-daemon, umdns) (udp port 5353 is held by a process of user avahi (uid 108))');
    // No /proc (not Linux): the hint alone.
    const none = await describeBindErrorWithHolder({ readText: async () => null }, { address: '127.0.0.1', port: 5353 }, 'udp', inUse);
    assert.doesNotMatch(none.message, /held by/);
    assert.equal(userName(null, 7), 'uid 7');
  });
});
