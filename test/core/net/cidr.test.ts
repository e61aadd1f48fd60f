import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cidrCovers, createCidrSet, formatCidr, parseAddress, parseCidr, PRIVATE_RANGES, type Cidr } from '../../../src/core/net/cidr.ts';

/** The address as the parser left it, as text we can compare: "4:0a000001" or "6:20010db8:...". */
function read(text: string): string | null {
  const out = new Uint32Array(4);
  const family = parseAddress(text, out);
  if (family === 0) return null;
  const words = [...out.subarray(0, family === 4 ? 1 : 4)].map((w) => w.toString(16).padStart(8, '0'));
  return `${family}:${words.join(':')}`;
}

function cidr(text: string): Cidr {
  const c = parseCidr(text);
  if (typeof c === 'string') throw new Error(c);
  return c;
}

function inSet(set: readonly string[], address: string): boolean {
  const s = createCidrSet(set.map(cidr));
  const out = new Uint32Array(4);
  const family = parseAddress(address, out);
  assert.notEqual(family, 0, `${address} should parse`);
  return s.contains(family as 4 | 6, out);
}

describe('parseAddress', () => {
  it('reads IPv4 dotted quads', () => {
    assert.equal(read('0.0.0.0'), '4:00000000');
    assert.equal(read('127.0.0.1'), '4:7f000001');
    assert.equal(read('255.255.255.255'), '4:ffffffff');
    assert.equal(read('192.168.1.20'), '4:c0a80114');
  });

  it('refuses IPv4 text that is not exactly four decimal parts of 0 to 255', () => {
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.', '.1.2.3', '1..2.3', '01.2.3.4', '1.2.3.4 ', 'a.b.c.d', '1.2.3.-4', '1234.1.1.1']) {
      assert.equal(read(bad), null, bad);
    }
  });

  it('reads the IPv6 text forms of RFC 4291 §2.2', () => {
    assert.equal(read('::'), '6:00000000:00000000:00000000:00000000');
    assert.equal(read('::1'), '6:00000000:00000000:00000000:00000001');
    assert.equal(read('2001:db8::1'), '6:20010db8:00000000:00000000:00000001');
    assert.equal(read('2001:DB8:0:0:8:800:200C:417A'), '6:20010db8:00000000:00080800:200c417a');
    assert.equal(read('fe80::'), '6:fe800000:00000000:00000000:00000000');
    assert.equal(read('1:2:3:4:5:6:7:8'), '6:00010002:00030004:00050006:00070008');
    assert.equal(read('1::8'), '6:00010000:00000000:00000000:00000008');
    assert.equal(read('1:2:3:4:5:6:7::'), '6:00010002:00030004:00050006:00070000');
    assert.equal(read('::2:3:4:5:6:7:8'), '6:00000002:00030004:00050006:00070008');
    assert.equal(read('64:ff9b::192.0.2.33'), '6:0064ff9b:00000000:00000000:c0000221');
  });

  it('ignores a zone, which link-local addresses may carry', () => {
    assert.equal(read('fe80::1%eth0'), '6:fe800000:00000000:00000000:00000001');
  });

  it('reads IPv4-mapped IPv6 addresses as the IPv4 address they map', () => {
    assert.equal(read('::ffff:10.1.2.3'), '4:0a010203');
    assert.equal(read('::FFFF:7f00:1'), '4:7f000001');
    assert.equal(read('0:0:0:0:0:ffff:192.168.0.1'), '4:c0a80001');
    // IPv4-compatible (deprecated) and NAT64 addresses are not mapped ones.
    assert.equal(read('::10.1.2.3'), '6:00000000:00000000:00000000:0a010203');
  });

  it('refuses malformed IPv6 text', () => {
    for (const bad of [
      ':', ':::', '1:::2', '1::2::3', ':1', '1:', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::',
      '12345::', 'g::1', '::1.2.3', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3.4:5', '1.2.3.4::', '::ffff:256.1.1.1', '%eth0', '[::1]',
    ]) {
      assert.equal(read(bad), null, bad);
    }
  });
});

describe('parseCidr', () => {
  it('clears host bits, so an address inside the network names the network', () => {
    const c = cidr('192.168.1.10/24');
    assert.equal(c.family, 4);
    assert.equal(c.bits, 24);
    assert.equal(c.words[0], 0xc0a80100);
  });

  it('reads a bare address as a single host', () => {
    assert.equal(cidr('10.0.0.1').bits, 32);
    assert.equal(cidr('2001:db8::1').bits, 128);
  });

  it('reads an IPv4-mapped prefix as the IPv4 prefix it covers', () => {
    const c = cidr('::ffff:10.0.0.0/104');
    assert.equal(c.family, 4);
    assert.equal(c.bits, 8);
    assert.equal(c.words[0], 0x0a000000);
  });

  it('says what is wrong with a bad prefix', () => {
    assert.match(parseCidr('10.0.0.0/33') as string, /0 to 32/);
    assert.match(parseCidr('2001:db8::/129') as string, /0 to 128/);
    assert.match(parseCidr('10.0.0.0/') as string, /prefix length/);
    assert.match(parseCidr('10.0.0.0/8/8') as string, /prefix length/);
    assert.match(parseCidr('10.0.0.0/-1') as string, /prefix length/);
    assert.match(parseCidr('example.com/8') as string, /not an IPv4 or IPv6 address/);
    assert.match(parseCidr('fe80::%eth0/64') as string, /zone/);
    assert.match(parseCidr('::ffff:10.0.0.0/64') as string, /96 or more/);
  });
});

describe('formatCidr', () => {
  it('writes the network of an IPv4 prefix, host bits cleared', () => {
    assert.equal(formatCidr(cidr('192.168.1.77/24')), '192.168.1.0/24');
    assert.equal(formatCidr(cidr('255.255.255.255')), '255.255.255.255/32');
    assert.equal(formatCidr(cidr('0.0.0.0/0')), '0.0.0.0/0');
    assert.equal(formatCidr(cidr('::ffff:10.1.2.3/104')), '10.0.0.0/8');
  });

  it('writes IPv6 as RFC 5952 says: lower case, no leading zeros, the longest zero run as ::', () => {
    assert.equal(formatCidr(cidr('2001:0DB8:0077:0000:0000:0000:0000:0001/64')), '2001:db8:77::/64');
    assert.equal(formatCidr(cidr('::1')), '::1/128');
    assert.equal(formatCidr(cidr('::/0')), '::/0');
    assert.equal(formatCidr(cidr('fe80::1234/10')), 'fe80::/10');
    // The longer run wins; of two equal runs the first; a single zero group is not shortened.
    assert.equal(formatCidr(cidr('2001:0:0:1:0:0:0:1')), '2001:0:0:1::1/128');
    assert.equal(formatCidr(cidr('2001:db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1/128');
    assert.equal(formatCidr(cidr('2001:db8:0:1:1:1:1:1')), '2001:db8:0:1:1:1:1:1/128');
    assert.equal(formatCidr(cidr('1:2:3:4:5:6:7:0')), '1:2:3:4:5:6:7:0/128');
    assert.equal(formatCidr(cidr('1:2:3:4:5:6::')), '1:2:3:4:5:6::/128');
  });

  it('writes text that reads back as the same prefix', () => {
    for (const t of ['2001:db8:77::/64', '10.0.0.0/8', 'fd00:1:2:3::/64', '2001:db8:8000::/33']) {
      const again = cidr(formatCidr(cidr(t)));
      assert.equal(formatCidr(again), t);
    }
  });
});

describe('cidrCovers', () => {
  it('says whether one prefix lies wholly inside another', () => {
    assert.equal(cidrCovers(cidr('10.0.0.0/8'), cidr('10.1.0.0/16')), true);
    assert.equal(cidrCovers(cidr('10.0.0.0/8'), cidr('10.0.0.0/8')), true);
    assert.equal(cidrCovers(cidr('10.1.0.0/16'), cidr('10.0.0.0/8')), false);
    assert.equal(cidrCovers(cidr('10.0.0.0/8'), cidr('11.0.0.0/16')), false);
    assert.equal(cidrCovers(cidr('fc00::/7'), cidr('fd00::/8')), true);
    assert.equal(cidrCovers(cidr('fc00::/7'), cidr('10.0.0.0/8')), false);
  });
});

describe('CIDR sets', () => {
  it('matches IPv4 prefixes at their edges', () => {
    const set = ['172.16.0.0/12'];
    assert.equal(inSet(set, '172.16.0.0'), true);
    assert.equal(inSet(set, '172.31.255.255'), true);
    assert.equal(inSet(set, '172.15.255.255'), false);
    assert.equal(inSet(set, '172.32.0.0'), false);
  });

  it('matches everything with /0 and one address with /32', () => {
    assert.equal(inSet(['0.0.0.0/0'], '203.0.113.9'), true);
    assert.equal(inSet(['203.0.113.9/32'], '203.0.113.9'), true);
    assert.equal(inSet(['203.0.113.9/32'], '203.0.113.8'), false);
  });

  it('matches IPv6 prefixes that end inside a word and across words', () => {
    assert.equal(inSet(['fe80::/10'], 'febf:ffff::1'), true);
    assert.equal(inSet(['fe80::/10'], 'fec0::1'), false);
    assert.equal(inSet(['2001:db8:1:2::/64'], '2001:db8:1:2:ffff:ffff:ffff:ffff'), true);
    assert.equal(inSet(['2001:db8:1:2::/64'], '2001:db8:1:3::'), false);
    assert.equal(inSet(['2001:db8::/33'], '2001:db8:7fff::1'), true);
    assert.equal(inSet(['2001:db8::/33'], '2001:db8:8000::1'), false);
    assert.equal(inSet(['::/0'], '2001:db8::1'), true);
  });

  it('keeps families apart: an IPv4 client never matches an IPv6 prefix, nor the reverse', () => {
    assert.equal(inSet(['::/0'], '10.0.0.1'), false);
    assert.equal(inSet(['::/0'], '::ffff:10.0.0.1'), false);
    assert.equal(inSet(['0.0.0.0/0'], '2001:db8::1'), false);
  });

  it('matches an IPv4-mapped client against IPv4 prefixes, and a mapped prefix against IPv4 clients', () => {
    assert.equal(inSet(['10.0.0.0/8'], '::ffff:10.9.8.7'), true);
    assert.equal(inSet(['::ffff:10.0.0.0/104'], '10.9.8.7'), true);
    assert.equal(inSet(['::ffff:10.0.0.0/104'], '11.0.0.1'), false);
  });
});

describe('the private ranges (the default --allow)', () => {
  const inside = [
    '127.0.0.1', '127.255.255.254', '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.254', '192.168.0.1',
    '192.168.255.255', '169.254.1.1', '::1', 'fc00::1', 'fd12:3456:789a::1', 'fe80::1', 'fe80::1%eth0', 'febf::1',
    '::ffff:127.0.0.1', '::ffff:192.168.1.2', '::ffff:10.0.0.5', '::ffff:169.254.0.9',
  ];
  const outside = [
    '8.8.8.8', '1.1.1.1', '11.0.0.1', '172.15.255.255', '172.32.0.0', '192.167.255.255', '192.169.0.0', '169.253.0.1',
    '100.64.0.1', '100.127.255.254', '0.0.0.0', '255.255.255.255', '224.0.0.1', '2001:db8::1', '2a00:1450::1', '::',
    'fec0::1', 'fe00::1', 'ff02::1', '::2', '::ffff:8.8.8.8', '::ffff:100.64.0.1', '64:ff9b::a00:1',
  ];
  for (const a of inside) it(`answers ${a}`, () => assert.equal(inSet(PRIVATE_RANGES, a), true));
  for (const a of outside) it(`does not answer ${a}`, () => assert.equal(inSet(PRIVATE_RANGES, a), false));
});
