import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redactUrl } from '../../../src/core/net/redact-url.ts';
import { parseUpstream } from '../../../src/upstreams/spec.ts';

describe('redactUrl', () => {
  it('#15 - hides a relay token in the query, keeping pins and the rest', () => {
    assert.equal(redactUrl('relay+https://relay.example/base?token=abc123'), 'relay+https://relay.example/base?token=****');
    assert.equal(
      redactUrl('relay+https://relay.example?pin=sha256/AAA=&token=a@b&x#relay.name'),
      'relay+https://relay.example?pin=sha256/AAA=&token=****&x#relay.name',
    );
    assert.equal(redactUrl('https://doh.example/dns-query?TOKEN=x&key=y'), 'https://doh.example/dns-query?TOKEN=****&key=****');
  });

  it('#15 - hides the password of user information, even one holding "/" or "@"', () => {
    assert.equal(redactUrl('http://alice:hun/ter2@proxy.example:3128'), 'http://alice:****@proxy.example:3128');
    assert.equal(redactUrl('http://alice:p@ss@proxy.example:3128'), 'http://alice:****@proxy.example:3128');
  });

  it('leaves text without secrets as it is', () => {
    for (const t of ['udp://192.0.2.1:53', 'tls://dns.example#name', 'https://[2001:db8::1]/dns-query', 'not a url', 'http://h:1']) assert.equal(redactUrl(t), t);
  });

  it('#15 - an upstream\'s label and its parse errors never carry its token', () => {
    const spec = parseUpstream('relay+https://relay.example/r?token=t0ps3cret');
    assert.equal(spec.relay?.token, 't0ps3cret');
    assert.equal(spec.label, 'relay+https://relay.example/r?token=****');
    assert.throws(
      () => parseUpstream('relay+https://relay.example/r?token=t0ps3cret&bogus=1'),
      (e: Error) => !e.message.includes('t0ps3cret') && e.message.includes('token=****'),
    );
  });
});
