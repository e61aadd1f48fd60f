import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PROXY_PORT, parseProxyUrl, redact } from '../../../src/core/net/proxy-url.ts';

const parsed = (text: string) => {
  const p = parseProxyUrl(text);
  assert.ok(typeof p !== 'string', `${text}: ${p}`);
  return p;
};

describe('#4 - parseProxyUrl', () => {
  it('reads http://HOST:PORT with an IPv4 address, an IPv6 one in brackets, or a name', () => {
    assert.deepEqual(parsed('http://127.0.0.1:3128'), { host: '127.0.0.1', port: 3128, family: 4, username: null, password: null, label: '127.0.0.1:3128' });
    assert.deepEqual(parsed('http://[2001:db8::1]:8080/'), { host: '2001:db8::1', port: 8080, family: 6, username: null, password: null, label: '[2001:db8::1]:8080' });
    assert.deepEqual(parsed('HTTP://proxy.corp.example:3128'), { host: 'proxy.corp.example', port: 3128, family: 0, username: null, password: null, label: 'proxy.corp.example:3128' });
  });

  it("takes curl's port, 1080, when none is given", () => {
    assert.equal(DEFAULT_PROXY_PORT, 1080);
    assert.equal(parsed('http://192.0.2.8').port, 1080);
    assert.equal(parsed('http://[::1]').port, 1080);
  });

  it('reads USER:PASS@ percent-decoded, and keeps them out of the label', () => {
    const p = parsed('http://alice:s%40cr%3At@192.0.2.8:3128');
    assert.equal(p.username, 'alice');
    assert.equal(p.password, 's@cr:t');
    assert.equal(p.label, '192.0.2.8:3128');
    assert.equal(parsed('http://bob@192.0.2.8:3128').password, '');
    // The last @ ends the user part, so an unescaped @ in a password still works.
    assert.equal(parsed('http://carol:a@b@192.0.2.8').password, 'a@b');
  });

  it('says what is wrong with a URL it cannot use', () => {
    const cases: Array<[string, RegExp]> = [
      ['127.0.0.1:3128', /must be http:\/\//],
      ['https://127.0.0.1:3128', /https:\/\/ proxies are not supported/],
      ['socks5://127.0.0.1:1080', /socks5:\/\/ proxies are not supported/],
      ['http://127.0.0.1:0', /port "0"/],
      ['http://127.0.0.1:65536', /port "65536"/],
      ['http://127.0.0.1:x', /port "x"/],
      ['http://', /no host/],
      ['http://:3128', /no host/],
      ['http://127.0.0.1:3128/path', /no path/],
      ['http://127.0.0.1:3128?x=1', /no path/],
      ['http://::1:3128', /IPv6 host in brackets/],
      ['http://[not-v6]:3128', /not an IPv6 address/],
      ['http://[::1', /unclosed/],
      ['http://bad_host!:3128', /neither an IP address nor a host name/],
      ['http://999.1.1.1:3128', /neither an IP address nor a host name/],
      ['http://:pw@127.0.0.1', /no user name/],
      ['http://a%zz:b@127.0.0.1', /%-escape/],
      ['http://a:b%0d%0aX:y@127.0.0.1', /control character/],
    ];
    for (const [text, why] of cases) {
      const p = parseProxyUrl(text);
      assert.equal(typeof p, 'string', text);
      assert.match(p as string, why, text);
    }
  });

  it('never repeats a password in what it says is wrong', () => {
    const p = parseProxyUrl('http://alice:hunter2@127.0.0.1:3128/x');
    assert.equal(typeof p, 'string');
    assert.ok(!(p as string).includes('hunter2'), p as string);
    assert.equal(redact('http://alice:hun/ter2@h:1'), 'http://alice:****@h:1');
    assert.equal(redact('http://h:1'), 'http://h:1');
  });
});
