import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isHoldfastError } from '../../src/core/errors.ts';
import { isIpv4, isIpv6, splitHostPort } from '../../src/core/net/host-port.ts';
import { parseUpstream } from '../../src/upstreams/spec.ts';

function rejected(text: string, why: RegExp): void {
  assert.throws(
    () => parseUpstream(text),
    (e: unknown) => isHoldfastError(e, ErrorCode.config) && why.test(e.message) && e.message.includes(`"${text}"`),
    text,
  );
}

describe('parseUpstream', () => {
  it('reads udp:// and tcp:// with IPv4, defaulting the port to 53', () => {
    assert.deepEqual(parseUpstream('udp://192.0.2.1'), { protocol: 'udp', address: '192.0.2.1', port: 53, family: 4, label: 'udp://192.0.2.1' });
    assert.deepEqual(parseUpstream('tcp://192.0.2.1:5353/'), { protocol: 'tcp', address: '192.0.2.1', port: 5353, family: 4, label: 'tcp://192.0.2.1:5353/' });
  });

  it('reads IPv6 with and without brackets', () => {
    assert.equal(parseUpstream('udp://[2001:db8::1]:853').port, 853);
    assert.equal(parseUpstream('udp://[2001:db8::1]:853').family, 6);
    assert.equal(parseUpstream('udp://[::1]').port, 53);
    assert.equal(parseUpstream('udp://2001:db8::1').address, '2001:db8::1');
    assert.equal(parseUpstream('udp://2001:db8::1').port, 53);
  });

  it('#2 - accepts a link-local IPv6 address with its zone, as resolv.conf writes it', () => {
    const u = parseUpstream('udp://[fe80::1%eth0]:53');
    assert.equal(u.address, 'fe80::1%eth0');
    assert.equal(u.family, 6);
    assert.equal(parseUpstream('udp://fe80::1%wlan0.100').address, 'fe80::1%wlan0.100');
  });

  it('rejects a missing or unsupported scheme, host names, port 0 and bad ports, naming the input', () => {
    rejected('192.0.2.1', /no scheme/);
    rejected('quic://192.0.2.1', /scheme "quic"/);
    rejected('udp://dns.example', /not an IP address/);
    rejected('udp://192.0.2.1:0', /port 0/);
    rejected('udp://192.0.2.1:65536', /malformed/);
    rejected('udp://192.0.2.1:', /malformed/);
    rejected('udp://[2001:db8::1', /malformed/);
    rejected('udp://[2001:db8::1]x', /malformed/);
    rejected('udp://256.0.0.1', /not an IP address/);
    rejected('udp://1::2::3', /not an IP address/);
    rejected('udp://fe80::1%', /not an IP address/);
  });
});

const PIN_A = 'O+ldeIfgHsEhT/e3YGbP0BKeTyhDz9pZS41VtX9mTyc=';
const PIN_B = 'wtuNtsmzytAUbhfpKOCwRdSodJS4yW0pudwskg/QKiQ=';

describe('parseUpstream: DNS over TLS', () => {
  it('reads tls://IP with the certificate name after #, defaulting the port to 853', () => {
    assert.deepEqual(parseUpstream('tls://1.1.1.1#cloudflare-dns.com'), {
      protocol: 'tls',
      address: '1.1.1.1',
      port: 853,
      family: 4,
      label: 'tls://1.1.1.1#cloudflare-dns.com',
      tls: { serverName: 'cloudflare-dns.com', pins: [] },
    });
    const v6 = parseUpstream('tls://[2606:4700::1111]:8853#one.one.one.one');
    assert.equal(v6.address, '2606:4700::1111');
    assert.equal(v6.port, 8853);
    assert.equal(v6.tls?.serverName, 'one.one.one.one');
  });

  it('verifies against the IP itself when no name is given, and takes a host name to resolve', () => {
    assert.equal(parseUpstream('tls://9.9.9.9').tls?.serverName, '9.9.9.9');
    const named = parseUpstream('tls://dns.quad9.net');
    assert.equal(named.family, 0, 'a name, resolved through the bootstrap');
    assert.equal(named.address, 'dns.quad9.net');
    assert.equal(named.tls?.serverName, 'dns.quad9.net');
  });

  it('reads repeated SPKI pins, percent-encoded or not', () => {
    const u = parseUpstream(`tls://192.0.2.1?pin=sha256/${PIN_A}&pin=sha256/${encodeURIComponent(PIN_B)}#dns.example`);
    assert.deepEqual(u.tls, { serverName: 'dns.example', pins: [PIN_A, PIN_B] });
  });

  it('rejects bad pins, unknown options, paths and bad names, naming the input', () => {
    rejected('tls://192.0.2.1?pin=sha256/short=', /pin "sha256\/short="/);
    rejected(`tls://192.0.2.1?pin=sha1/${PIN_A}`, /pin/);
    rejected('tls://192.0.2.1?method=get', /option "method"/);
    rejected('tls://192.0.2.1/dns-query', /path/);
    rejected('tls://192.0.2.1#bad_name!', /certificate name/);
    rejected('tls://under score!', /neither an IP address nor a host name/);
    rejected('tls://192.0.2.1:0', /port 0/);
    rejected('udp://192.0.2.1#dns.example', /options/);
  });
});

describe('parseUpstream: DNS over HTTPS', () => {
  it('reads https://HOST/PATH as POST with the Host header, defaulting the port to 443', () => {
    assert.deepEqual(parseUpstream('https://dns.example/dns-query'), {
      protocol: 'https',
      address: 'dns.example',
      port: 443,
      family: 0,
      label: 'https://dns.example/dns-query',
      tls: { serverName: 'dns.example', pins: [] },
      http: { path: '/dns-query', method: 'POST', authority: 'dns.example' },
    });
  });

  it('takes method=get and pins out of the query string and keeps the rest for the server', () => {
    const u = parseUpstream(`https://192.0.2.1:8443/q?method=get&pin=sha256/${PIN_A}&x=1#dns.example`);
    assert.deepEqual(u.http, { path: '/q?x=1', method: 'GET', authority: 'dns.example:8443' });
    assert.deepEqual(u.tls, { serverName: 'dns.example', pins: [PIN_A] });
    assert.equal(parseUpstream('https://[::1]:8443/dns-query').http?.authority, '[::1]:8443');
  });

  it('rejects a missing path and unknown methods', () => {
    rejected('https://192.0.2.1', /no path/);
    rejected('https://192.0.2.1/', /no path/);
    rejected('https://192.0.2.1/dns-query?method=put', /method "put"/);
  });
});

describe('splitHostPort', () => {
  it('splits HOST:PORT, [V6]:PORT, HOST and bare V6', () => {
    assert.deepEqual(splitHostPort('192.0.2.1:53'), { host: '192.0.2.1', port: 53 });
    assert.deepEqual(splitHostPort('[::1]:5353'), { host: '::1', port: 5353 });
    assert.deepEqual(splitHostPort('192.0.2.1'), { host: '192.0.2.1', port: null });
    assert.deepEqual(splitHostPort('::1'), { host: '::1', port: null });
    assert.deepEqual(splitHostPort('[::1]'), { host: '::1', port: null });
  });

  it('rejects ports that are not 1 to 5 digits up to 65535', () => {
    for (const s of ['a:123456', 'a:-1', 'a:5x', 'a:65536', '[::1]:']) assert.equal(splitHostPort(s), null, s);
    assert.deepEqual(splitHostPort('a:65535'), { host: 'a', port: 65535 });
  });
});

describe('isIpv4 and isIpv6', () => {
  it('accepts dotted quads from 0 to 255 without leading zeros', () => {
    for (const s of ['0.0.0.0', '255.255.255.255', '192.0.2.1']) assert.ok(isIpv4(s), s);
    for (const s of ['256.1.1.1', '1.2.3', '01.2.3.4', '1.2.3.4.5', 'a.b.c.d']) assert.ok(!isIpv4(s), s);
  });

  it('accepts IPv6 forms and rejects two "::" or stray characters', () => {
    for (const s of ['::', '::1', '2001:db8::1', '::ffff:192.0.2.1', 'FE80::1']) assert.ok(isIpv6(s), s);
    for (const s of ['1::2::3', '192.0.2.1', 'g::1', '::1%']) assert.ok(!isIpv6(s), s);
  });
});

describe('parseUpstream: the relay (protocol v1)', () => {
  it('reads relay+https://HOST/BASE with its token, pins and certificate name', () => {
    assert.deepEqual(parseUpstream(`relay+https://192.0.2.7/relay/?token=s3cret&pin=sha256/${PIN_A}#relay.example`), {
      protocol: 'relay',
      address: '192.0.2.7',
      port: 443,
      family: 4,
      label: `relay+https://192.0.2.7/relay/?token=****&pin=sha256/${PIN_A}#relay.example`,
      tls: { serverName: 'relay.example', pins: [PIN_A] },
      http: { path: '/relay', method: 'POST', authority: 'relay.example' },
      relay: { base: '/relay', token: 's3cret' },
    });
  });

  it('reads relay+http:// without TLS, defaulting to port 80 and an empty base', () => {
    const u = parseUpstream('relay+http://relay.example:8053');
    assert.equal(u.tls, undefined);
    assert.equal(u.port, 8053);
    assert.equal(u.family, 0);
    assert.deepEqual(u.relay, { base: '', token: null });
    assert.equal(u.http?.authority, 'relay.example:8053');
    assert.equal(parseUpstream('relay+http://192.0.2.7/').http?.authority, '192.0.2.7');
  });

  it('rejects what a relay URL cannot carry', () => {
    rejected('relay+http://192.0.2.7#relay.example', /no TLS/);
    rejected(`relay+http://192.0.2.7?pin=sha256/${PIN_A}`, /takes token=\)/);
    rejected('relay+https://192.0.2.7?method=get', /option "method"/);
    rejected('relay+https://192.0.2.7?token=', /empty token/);
    rejected('relay+ftp://192.0.2.7', /scheme "relay\+ftp"/);
  });
});
