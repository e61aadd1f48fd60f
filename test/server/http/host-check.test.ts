import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHostCheck, hostOf, isLoopbackAddress, withHostCheck } from '../../../src/server/http/host-check.ts';

const PEER = { address: '192.168.1.50', port: 40000 };

describe('http: Host check', () => {
  const isOurs = createHostCheck({
    listenAddress: '192.168.1.1',
    allowedHosts: ['Router.Lan.', '[fd00::53]'],
    interfaceAddresses: () => ['192.168.1.1', '10.0.0.1', 'fe80::1'],
  });

  it('#15 - refuses a name we were not given: a page that rebound its own name to our address', () => {
    for (const h of ['evil.example', 'evil.example:8080', 'router.lan.evil.example', '192.168.1.1.nip.io', '', '[::1', 'a b']) assert.equal(isOurs(h), false, h);
  });

  it('accepts the listen address, loopback, localhost, the interfaces\' addresses and the names configured', () => {
    for (const h of ['192.168.1.1', '192.168.1.1:9100', '127.0.0.1:9100', '127.8.0.1', '[::1]:9100', 'localhost:9100', 'LOCALHOST', '10.0.0.1', '[fe80::1]:80', 'router.lan', 'ROUTER.LAN.:9100', '[fd00::53]:80', '[::ffff:127.0.0.1]']) {
      assert.equal(isOurs(h), true, h);
    }
  });

  it('answers a request without Host (HTTP/1.0): no browser sends one', () => {
    assert.equal(isOurs(null), true);
  });

  it('reads interface addresses when asked, and treats an error reading them as no match', () => {
    let calls = 0;
    const check = createHostCheck({
      listenAddress: '0.0.0.0',
      allowedHosts: [],
      interfaceAddresses: () => {
        calls++;
        if (calls > 1) throw new Error('no netlink');
        return ['192.0.2.9'];
      },
    });
    assert.equal(check('192.0.2.9:80'), true);
    assert.equal(check('192.0.2.9:80'), false);
  });

  it('#15 - withHostCheck answers 421 to another Host and passes ours on', async () => {
    const handler = withHostCheck(() => new Response('data'), isOurs);
    const evil = await handler(new Request('http://x/api/queries', { headers: { host: 'evil.example' } }), PEER);
    assert.equal(evil.status, 421);
    assert.doesNotMatch(await evil.text(), /data/);
    const ours = await handler(new Request('http://x/api/queries', { headers: { host: '192.168.1.1:9100' } }), PEER);
    assert.equal(ours.status, 200);
  });

  it('hostOf strips port, brackets and the final dot', () => {
    assert.equal(hostOf('Example.COM.:80'), 'example.com');
    assert.equal(hostOf('[2001:db8::1]:443'), '2001:db8::1');
    assert.equal(hostOf(':80'), null);
  });

  it('knows loopback listen addresses', () => {
    assert.equal(isLoopbackAddress('127.0.0.1'), true);
    assert.equal(isLoopbackAddress('::1'), true);
    assert.equal(isLoopbackAddress('0.0.0.0'), false);
    assert.equal(isLoopbackAddress('192.168.1.1'), false);
  });
});
