import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG, validateConfig } from '../../src/config/config.ts';
import { RELOADABLE, withDocument, withEnvironment, withFlags } from '../../src/config/derive.ts';

describe('#14 - local name settings', () => {
  it('defaults: no files, no records, domain lan, TTL 60, all reloaded by SIGHUP', () => {
    assert.deepEqual(DEFAULT_CONFIG.local, { hosts: [], records: [], recordFiles: [], domain: 'lan', ttlSeconds: 60, dhcpLeases: [] });
    for (const k of ['local.hosts', 'local.records', 'local.recordFiles', 'local.domain', 'local.ttlSeconds', 'local.dhcpLeases']) assert.ok(RELOADABLE.has(k), k);
  });

  it('keeps a --record whole, blanks and all, and repeats flags into lists', () => {
    const c = withFlags(DEFAULT_CONFIG, 'serve', ['--record', 'nas.lan A 192.168.1.10', '--record=txt.lan TXT "a b"', '--hosts', '/tmp/hosts/odhcpd', '--hosts', '/etc/hosts', '--dhcp-leases', '/tmp/dhcp.leases', '--local-domain', 'home.arpa', '--local-ttl', '0']);
    assert.deepEqual(c.local.records, ['nas.lan A 192.168.1.10', 'txt.lan TXT "a b"']);
    assert.deepEqual(c.local.hosts, ['/tmp/hosts/odhcpd', '/etc/hosts']);
    assert.deepEqual(c.local.dhcpLeases, ['/tmp/dhcp.leases']);
    assert.equal(c.local.domain, 'home.arpa');
    assert.equal(c.local.ttlSeconds, 0);
  });

  it('splits HOLDFAST_RECORD on ";" and newlines, not on blanks', () => {
    const env = (n: string) => (n === 'HOLDFAST_RECORD' ? 'nas.lan A 192.168.1.10; www.lan CNAME nas.lan\nlan MX 10 nas.lan' : undefined);
    assert.deepEqual(withEnvironment(DEFAULT_CONFIG, 'serve', env).local.records, ['nas.lan A 192.168.1.10', 'www.lan CNAME nas.lan', 'lan MX 10 nas.lan']);
  });

  it('reads the [local] table of the config file, "none" included', () => {
    const c = validateConfig(withDocument(DEFAULT_CONFIG, { local: { domain: 'none', records: ['nas.lan A 192.168.1.10'], dhcpLeases: ['/tmp/dhcp.leases'] } }));
    assert.equal(c.local.domain, 'none');
    assert.deepEqual(c.local.records, ['nas.lan A 192.168.1.10']);
  });

  it('refuses a record without NAME TYPE DATA and a domain that is no name, naming the flag', () => {
    assert.throws(() => withFlags(DEFAULT_CONFIG, 'serve', ['--record', 'nas.lan']), /--record: "nas\.lan" is not "NAME TYPE DATA"/);
    assert.throws(() => withFlags(DEFAULT_CONFIG, 'serve', ['--local-domain', 'bad..name']), /--local-domain: local\.domain must be a domain name/);
    assert.throws(() => withFlags(DEFAULT_CONFIG, 'serve', ['--local-ttl', '-1']), /--local-ttl/);
  });
});
