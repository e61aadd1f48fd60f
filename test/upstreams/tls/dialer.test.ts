// The TLS dialer through an HTTP proxy, against a fake network that plays the proxy: where the
// connection goes, what is asked of the proxy, what is verified, and how a refusal is reported.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isHoldfastError } from '../../../src/core/errors.ts';
import type { CorePorts, Network, StreamHandlers, TlsOptions, TlsStream } from '../../../src/core/ports.ts';
import { parseProxyUrl, type ProxyUrl } from '../../../src/core/net/proxy-url.ts';
import { parseUpstream } from '../../../src/upstreams/spec.ts';
import { createTlsDialer } from '../../../src/upstreams/tls/dialer.ts';
import { DEFAULT_ENCRYPTED_SETTINGS, type EncryptedTransportSettings, type HostResolver, type UpstreamEvent } from '../../../src/upstreams/transport.ts';
import { createFakeTime } from '../../helpers/fake-clock.ts';
import { drain } from '../../helpers/fake-net.ts';

const KEY = 'O+ldeIfgHsEhT/e3YGbP0BKeTyhDz9pZS41VtX9mTyc=';
const OTHER_KEY = 'wtuNtsmzytAUbhfpKOCwRdSodJS4yW0pudwskg/QKiQ=';
const text = (b: Uint8Array) => new TextDecoder().decode(b);

interface Attempt {
  readonly address: string;
  readonly port: number;
  readonly options: TlsOptions;
  /** What the tunnel asked of the proxy, when there was one. */
  readonly request: string | null;
}

/**
 * A network whose every TLS connection meets `proxyReply` first when it has a tunnel: fed to
 * the tunnel, which opens or throws. null: the proxy never answers (until the attempt is aborted).
 */
function fakeNet(proxyReply: string | null, serverKey = KEY) {
  const attempts: Attempt[] = [];
  const net: Network = {
    connectUdp: () => Promise.reject(new Error('no UDP here')),
    connectTcp: () => Promise.reject(new Error('no plain TCP here')),
    connectTls(address: string, port: number, options: TlsOptions, _handlers: StreamHandlers): Promise<TlsStream> {
      attempts.push({ address, port, options, request: options.tunnel ? text(options.tunnel.request) : null });
      const stream: TlsStream = { peerKeySha256: options.peerKey ? serverKey : null, write() {}, close() {} };
      if (!options.tunnel) return Promise.resolve(stream);
      if (proxyReply === null) {
        return new Promise((_resolve, reject) => options.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
      }
      try {
        if (!options.tunnel.reply(new TextEncoder().encode(proxyReply))) return Promise.reject(new Error('the proxy closed the connection before the tunnel was open'));
      } catch (e) {
        return Promise.reject(e);
      }
      return Promise.resolve(stream);
    },
  };
  return { net, attempts };
}

function proxyAt(url: string): ProxyUrl {
  const p = parseProxyUrl(url);
  assert.ok(typeof p !== 'string', String(p));
  return p;
}

function setup(upstream: string, proxyReply: string | null, settings: Partial<EncryptedTransportSettings> = {}, serverKey = KEY) {
  const time = createFakeTime();
  const { net, attempts } = fakeNet(proxyReply, serverKey);
  const ports: CorePorts = { clock: time, timers: time, entropy: { random: () => 0.5, id16: () => 1 }, net };
  const events: UpstreamEvent[] = [];
  const dialer = createTlsDialer(parseUpstream(upstream), { ...DEFAULT_ENCRYPTED_SETTINGS, ...settings, onEvent: (e) => events.push(e) }, ports);
  const dial = () => dialer.dial({ onData() {}, onClose() {} });
  return { time, attempts, events, dial };
}

const OK = 'HTTP/1.1 200 Connection established\r\n\r\n';

describe('#4 - the TLS dialer through an HTTP proxy', () => {
  it('connects to the proxy, asks it for the upstream by name, and verifies the upstream, not the proxy', async () => {
    // No bootstrap: the proxy resolves the upstream's name.
    const s = setup('tls://dns.example', OK, { proxy: proxyAt('http://192.0.2.8:3128') });
    await s.dial();
    assert.equal(s.attempts.length, 1);
    const [a] = s.attempts;
    assert.equal(`${a.address}:${a.port}`, '192.0.2.8:3128');
    assert.equal(a.request, 'CONNECT dns.example:853 HTTP/1.1\r\nHost: dns.example:853\r\nUser-Agent: holdfast\r\n\r\n');
    assert.equal(a.options.serverName, 'dns.example');
  });

  it('asks for an IPv6 upstream in brackets, keeps the certificate name after #, and sends the credentials', async () => {
    const s = setup('https://[2001:db8::53]/dns-query#doh.example', OK, { proxy: proxyAt('http://alice:pw@192.0.2.8:3128') });
    await s.dial();
    assert.match(s.attempts[0].request!, /^CONNECT \[2001:db8::53\]:443 HTTP\/1\.1\r\nHost: \[2001:db8::53\]:443\r\n/);
    assert.match(s.attempts[0].request!, /\r\nProxy-Authorization: Basic YWxpY2U6cHc=\r\n/);
    assert.equal(s.attempts[0].options.serverName, 'doh.example');
  });

  it('checks the pins on the key that came through the tunnel', async () => {
    const proxy = proxyAt('http://192.0.2.8:3128');
    const right = setup(`tls://192.0.2.53?pin=sha256/${KEY}#dns.example`, OK, { proxy });
    await right.dial();
    assert.equal(right.attempts[0].options.peerKey, true);
    const wrong = setup(`tls://192.0.2.53?pin=sha256/${KEY}#dns.example`, OK, { proxy }, OTHER_KEY);
    await assert.rejects(wrong.dial(), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamTls) && e.message.includes(`through proxy 192.0.2.8:3128 failed (server key sha256/${OTHER_KEY} matches no pin)`));
  });

  it('fails with HF_UPSTREAM_PROXY naming the proxy and its status, reported once, and never connects another way', async () => {
    const s = setup('tls://192.0.2.53#dns.example', 'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\n\r\n', {
      proxy: proxyAt('http://192.0.2.8:3128'),
    });
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        s.dial(),
        (e: unknown) =>
          isHoldfastError(e, ErrorCode.upstreamProxy) &&
          e.message === 'upstream: TLS connection to tls://192.0.2.53#dns.example failed (proxy 192.0.2.8:3128 refused CONNECT to 192.0.2.53:853: 407 Proxy Authentication Required)',
      );
    }
    assert.deepEqual(
      s.events.map((e) => [e.kind, e.code]),
      [['connect-failed', ErrorCode.upstreamProxy]],
    );
    assert.ok(s.attempts.every((a) => a.address === '192.0.2.8' && a.options.tunnel), 'every attempt went to the proxy');
  });

  it('resolves a proxy given by name through the bootstrap, and asks again after a failure', async () => {
    const asked: string[] = [];
    const forgotten: string[] = [];
    const resolveHost: HostResolver = {
      resolve: (name) => (asked.push(name), Promise.resolve('192.0.2.8')),
      forget: (name) => forgotten.push(name),
    };
    const ok = setup('tls://dns.example', OK, { proxy: proxyAt('http://proxy.lan:3128'), resolveHost });
    await ok.dial();
    assert.deepEqual(asked, ['proxy.lan'], 'the proxy, never the upstream');
    assert.equal(ok.attempts[0].address, '192.0.2.8');
    assert.match(ok.attempts[0].request!, /^CONNECT dns\.example:853 /);
    const refused = setup('tls://dns.example', 'HTTP/1.1 502 Bad Gateway\r\n\r\n', { proxy: proxyAt('http://proxy.lan:3128'), resolveHost });
    await assert.rejects(refused.dial(), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamProxy) && /502 Bad Gateway/.test(e.message));
    assert.deepEqual(forgotten, ['proxy.lan']);
  });

  it('refuses a proxy given by name when nothing can resolve it', async () => {
    const s = setup('tls://192.0.2.53#dns.example', OK, { proxy: proxyAt('http://proxy.lan:3128') });
    await assert.rejects(s.dial(), (e: unknown) => isHoldfastError(e, ErrorCode.upstreamTls) && /proxy "proxy\.lan" is a host name and no bootstrap/.test(e.message));
    assert.equal(s.attempts.length, 0);
  });

  it('bounds the proxy exchange by the connect timeout, and aborts the attempt', async () => {
    const s = setup('tls://192.0.2.53#dns.example', null, { proxy: proxyAt('http://192.0.2.8:3128'), connectTimeoutMs: 5000 });
    let seen: unknown = null;
    s.dial().catch((e) => (seen = e));
    // Read through a function: the type checker cannot know that a callback changed it.
    const failureNow = (): unknown => seen;
    await drain();
    s.time.advance(4999);
    await drain();
    assert.equal(failureNow(), null, 'still waiting just before the deadline');
    assert.equal(s.attempts[0].options.signal?.aborted, false);
    s.time.advance(1);
    await drain();
    const failure = failureNow();
    assert.ok(isHoldfastError(failure, ErrorCode.upstreamTls) && /through proxy 192\.0\.2\.8:3128 failed \(no tunnel and handshake within 5000 ms\)/.test(failure.message), String(failure));
    assert.equal(s.attempts[0].options.signal?.aborted, true, 'the socket of the silent proxy is let go');
  });

  it('without a proxy, connects straight to the upstream with no tunnel', async () => {
    const s = setup('tls://192.0.2.53#dns.example', null);
    await s.dial();
    assert.equal(`${s.attempts[0].address}:${s.attempts[0].port}`, '192.0.2.53:853');
    assert.equal(s.attempts[0].options.tunnel, undefined);
  });
});
