import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keyToText, nameKeyOf, reverseKey, parseIp } from '../../../src/pipeline/local/names.ts';
import { parseRecord, parseRecordsFile, RecordType } from '../../../src/pipeline/local/records.ts';
import { parseHosts, parseLeases } from '../../../src/pipeline/local/sources.ts';
import { PRIVATE_REVERSE_ZONES } from '../../../src/pipeline/local/private-zones.ts';

const text = (key: string) => keyToText(key);

describe('#14 - hosts files', () => {
  it('reads IP NAME [ALIAS...] lines with comments, names case-folded, IPv4 and IPv6', () => {
    const r = parseHosts('# a comment\n\n192.168.1.10  NAS nas-alias   # trailing comment\nfd00::10\tnas.lan\n::ffff:192.0.2.1 mapped\n');
    assert.deepEqual(r.bad, []);
    assert.deepEqual(r.entries.map((e) => [e.line, e.address.family, e.names.map(text)]), [
      [3, 4, ['nas.', 'nas-alias.']],
      [4, 6, ['nas.lan.']],
      [5, 6, ['mapped.']],
    ]);
  });

  it('skips and reports each bad line with its number and why, loading the rest', () => {
    const r = parseHosts('192.168.1.1 router\n300.1.1.1 bad\n192.168.1.2\n192.168.1.3 under_score ok\n192.168.1.4 bad..name\n10.0.0.1 fine\n');
    assert.deepEqual(r.entries.map((e) => e.line), [1, 4, 6]);
    assert.deepEqual(r.bad.map((b) => b.line), [2, 3, 5]);
    assert.match(r.bad[0].problem, /300\.1\.1\.1.*not an IP address/);
    assert.match(r.bad[1].problem, /has no name/);
    assert.match(r.bad[2].problem, /bad\.\.name.*not a host name/);
  });
});

describe('#14 - dnsmasq lease files', () => {
  it('reads EXPIRY MAC IP HOSTNAME CLIENTID, IPv6 leases and infinite ones; skips * and the duid line', () => {
    const r = parseLeases(
      [
        '1700000600 aa:bb:cc:dd:ee:ff 192.168.1.50 laptop 01:aa:bb:cc:dd:ee:ff',
        '0 11:22:33:44:55:66 192.168.1.51 printer *',
        '1700000600 11:22:33:44:55:77 192.168.1.52 * *',
        'duid 00:01:00:01:2c:5f:1e:2a:aa:bb:cc:dd:ee:ff',
        '1700000600 1234567 fd00::50 laptop 00:01:00:01',
        'garbage',
        '17x 11:22 192.168.1.9 host *',
      ].join('\n'),
    );
    assert.deepEqual(
      r.leases.map((l) => [l.line, text(l.name), l.address.family, l.expiresAtMs]),
      [
        [1, 'laptop.', 4, 1_700_000_600_000],
        [2, 'printer.', 4, null],
        [5, 'laptop.', 6, 1_700_000_600_000],
      ],
    );
    assert.equal(r.unnamed, 1);
    assert.deepEqual(r.bad.map((b) => b.line), [6, 7]);
  });
});

describe('#14 - record lines', () => {
  it('reads A, AAAA, CNAME, TXT, MX, SRV and PTR in zone-file syntax, with an optional TTL and class', () => {
    const a = parseRecord('nas.lan A 192.168.1.10');
    assert.ok(typeof a !== 'string');
    assert.equal(a.type, RecordType.A);
    assert.deepEqual([...a.rdata], [192, 168, 1, 10]);
    assert.equal(a.ttlSeconds, null);
    const aaaa = parseRecord('nas.lan. 300 IN AAAA fd00::1');
    assert.ok(typeof aaaa !== 'string');
    assert.equal(aaaa.ttlSeconds, 300);
    assert.equal(aaaa.rdata.length, 16);
    const cname = parseRecord('www.lan CNAME nas.lan.');
    assert.ok(typeof cname !== 'string');
    assert.equal(text(cname.target!), 'nas.lan.');
    const txt = parseRecord('t.lan TXT "hello world" plain "q\\"uote" "\\065"');
    assert.ok(typeof txt !== 'string');
    assert.deepEqual(new TextDecoder().decode(txt.rdata), '\x0bhello world\x05plain\x06q"uote\x01A');
    const mx = parseRecord('lan MX 10 mail.lan');
    assert.ok(typeof mx !== 'string');
    assert.deepEqual([...mx.rdata.subarray(0, 3)], [0, 10, 4]);
    const srv = parseRecord('_sip._tcp.lan SRV 0 5 5060 pbx.lan');
    assert.ok(typeof srv !== 'string');
    assert.deepEqual([...srv.rdata.subarray(0, 6)], [0, 0, 0, 5, 0x13, 0xc4]);
    const ptr = parseRecord('10.1.168.192.in-addr.arpa PTR nas.lan');
    assert.ok(typeof ptr !== 'string');
    assert.equal(ptr.type, RecordType.PTR);
  });

  it('says why a record cannot be read', () => {
    assert.match(parseRecord('nas.lan A') as string, /NAME TYPE DATA/);
    assert.match(parseRecord('nas.lan A 1.2.3') as string, /not an IPv4 address/);
    assert.match(parseRecord('nas.lan AAAA 192.168.1.1') as string, /not an IPv6 address/);
    assert.match(parseRecord('nas.lan HINFO a b') as string, /type "HINFO" is not one of/);
    assert.match(parseRecord('nas.lan MX ten mail.lan') as string, /not a preference/);
    assert.match(parseRecord('nas.lan TXT "open') as string, /not closed/);
    assert.match(parseRecord('bad..name A 1.2.3.4') as string, /not a host name/);
  });

  it('reads a records file, skipping comments and reporting bad lines by number', () => {
    const r = parseRecordsFile('# records\nnas.lan A 192.168.1.10\n; zone comment\nbroken line\nwww.lan CNAME nas.lan\n');
    assert.deepEqual(r.records.map((x) => x.line), [2, 5]);
    assert.deepEqual(r.bad.map((x) => x.line), [4]);
  });
});

describe('#14 - reverse names and the RFC 6303 zones', () => {
  it('puts an address at its in-addr.arpa or ip6.arpa name', () => {
    assert.equal(text(reverseKey(parseIp('192.168.1.10')!)), '10.1.168.192.in-addr.arpa.');
    assert.equal(text(reverseKey(parseIp('fd00::1')!)), `1.${'0.'.repeat(29)}d.f.ip6.arpa.`);
  });

  it('lists every RFC 6303 §4 zone, and each is a valid name', () => {
    assert.equal(PRIVATE_REVERSE_ZONES.length, 1 + 16 + 1 + 7 + 2 + 1 + 4 + 1);
    for (const z of ['10.in-addr.arpa', '16.172.in-addr.arpa', '31.172.in-addr.arpa', '168.192.in-addr.arpa', '254.169.in-addr.arpa', 'd.f.ip6.arpa', 'b.e.f.ip6.arpa', '8.b.d.0.1.0.0.2.ip6.arpa']) {
      assert.ok(PRIVATE_REVERSE_ZONES.includes(z), z);
    }
    assert.ok(!PRIVATE_REVERSE_ZONES.includes('32.172.in-addr.arpa'));
    for (const z of PRIVATE_REVERSE_ZONES) assert.notEqual(nameKeyOf(z), null, z);
  });
});
