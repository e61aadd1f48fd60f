// #4: tls:// and https:// upstreams through an HTTP proxy (CONNECT). A real tinyproxy in front
// of the real DoT (unbound) and DoH (dnsdist) servers with the test CA; and proxies that
// refuse (a fake answering 407, tinyproxy answering 403 for a port it may not reach), which
// must give SERVFAIL and one log line with the reason, and no connection that goes around them.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { decodeRelayResponse, encodeRelayRequest } from '../../src/protocols/relay-v1.ts';
import { askA } from '../helpers/dns-client.ts';
import { DOH_ANSWER, DOT_ANSWER, startDnsdistDoh, startUnboundDot, type EncryptedServer } from '../helpers/encrypted-servers.ts';
import { runHoldfast, startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { decode, query, type Decoded } from '../helpers/packets.ts';
import { startCountingListener, startFakeProxy, startTinyproxy, type CountingListener, type Tinyproxy } from '../helpers/proxies.ts';
import { holdfastArgv } from '../helpers/runtime.ts';
import { createTestPki, TEST_SERVER_NAME, type TestPki } from '../helpers/tls-certs.ts';

/** Generous: every reply is expected well before this, and a missing one fails the test. */
const REPLY_WAIT_MS = 8000;

const ask = (port: number, name: string): Promise<Decoded> => askA(port, name, REPLY_WAIT_MS);

const addresses = (d: Decoded) => d.answers.filter((a) => a.type === 'A').map((a) => a.data);
const warnings = (hf: HoldfastProcess, code: string) => hf.logs.filter((l) => l.level === 'warn' && l.code === code);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

let pki: TestPki;
let dot: EncryptedServer;
let doh: EncryptedServer;
let proxy: Tinyproxy;
/** An upstream port nothing may reach: the proxies below refuse it, and Holdfast must not go around them. */
let untouched: CountingListener;

before(async () => {
  pki = createTestPki();
  dot = await startUnboundDot({ cert: pki.good });
  doh = await startDnsdistDoh({ cert: pki.good });
  untouched = await startCountingListener();
  proxy = await startTinyproxy({ connectPorts: [dot.port, doh.port] });
});
after(async () => {
  await proxy?.stop();
  await untouched?.close();
  await doh?.stop();
  await dot?.stop();
  pki?.remove();
});

function holdfast(proxyUrl: string, upstream: string, extra: string[] = []): Promise<HoldfastProcess> {
  return startHoldfast(['--proxy', proxyUrl, '--upstream', upstream, '--ca-file', pki.caFile, '--timeout', '2000', ...extra]);
}

describe('#4 - encrypted upstreams through tinyproxy', () => {
  it('answers over DNS over TLS through the tunnel, and says so at start', async () => {
    const hf = await holdfast(`http://127.0.0.1:${proxy.port}`, `tls://127.0.0.1:${dot.port}#${TEST_SERVER_NAME}`);
    try {
      for (const name of ['a.example.test', 'b.example.test']) assert.deepEqual(addresses(await ask(hf.port, name)), [DOT_ANSWER]);
      assert.match(proxy.log(), new RegExp(`CONNECT 127\\.0\\.0\\.1:${dot.port} HTTP/1\\.1`), 'the connection went through tinyproxy');
      assert.ok(hf.logs.some((l) => l.proxy === `127.0.0.1:${proxy.port}` && /through HTTP proxy/.test(String(l.msg))));
      assert.deepEqual(warnings(hf, 'HF_UPSTREAM_TLS'), []);
    } finally {
      await hf.stop();
    }
  });

  it('answers over DNS over HTTPS through the tunnel', async () => {
    const hf = await holdfast(`http://127.0.0.1:${proxy.port}/`, `https://127.0.0.1:${doh.port}/dns-query#${TEST_SERVER_NAME}`);
    try {
      assert.deepEqual(addresses(await ask(hf.port, 'doh.example.test')), [DOH_ANSWER]);
      assert.match(proxy.log(), new RegExp(`CONNECT 127\\.0\\.0\\.1:${doh.port} HTTP/1\\.1`));
    } finally {
      await hf.stop();
    }
  });

  it('lets the proxy resolve an upstream given by name: no bootstrap needed', async () => {
    // localhost is in every /etc/hosts; the certificate name still comes after #.
    const hf = await holdfast(`http://127.0.0.1:${proxy.port}`, `tls://localhost:${dot.port}#${TEST_SERVER_NAME}`);
    try {
      assert.deepEqual(addresses(await ask(hf.port, 'named.example.test')), [DOT_ANSWER]);
      assert.match(proxy.log(), new RegExp(`CONNECT localhost:${dot.port} HTTP/1\\.1`));
    } finally {
      await hf.stop();
    }
  });

  it('pins the upstream through the tunnel: a wrong pin is refused and logged once, the right one answers', async () => {
    const via = `http://127.0.0.1:${proxy.port}`;
    const wrong = await holdfast(via, `tls://127.0.0.1:${dot.port}?pin=sha256/${pki.expired.pin}#${TEST_SERVER_NAME}`);
    const right = await holdfast(via, `tls://127.0.0.1:${dot.port}?pin=sha256/${pki.good.pin}#${TEST_SERVER_NAME}`);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await ask(wrong.port, `pin-${i}.example.test`)).rcode, 'SERVFAIL');
      const w = warnings(wrong, 'HF_UPSTREAM_TLS');
      assert.equal(w.length, 1, `logged once: ${JSON.stringify(w)}`);
      assert.match(String(w[0].msg), new RegExp(`through proxy 127\\.0\\.0\\.1:${proxy.port} failed \\(server key sha256/${escape(pki.good.pin)} matches no pin\\)`));
      assert.deepEqual(addresses(await ask(right.port, 'pinned.example.test')), [DOT_ANSWER]);
    } finally {
      await wrong.stop();
      await right.stop();
    }
  });

  it('verifies the upstream certificate, not the proxy: a wrong name is refused through the tunnel', async () => {
    const hf = await holdfast(`http://127.0.0.1:${proxy.port}`, `tls://127.0.0.1:${dot.port}#other.test`);
    try {
      assert.equal((await ask(hf.port, 'wrong-name.example.test')).rcode, 'SERVFAIL');
      const w = warnings(hf, 'HF_UPSTREAM_TLS');
      assert.equal(w.length, 1, JSON.stringify(w));
      assert.match(String(w[0].msg), /altnames|NotValidForName|not valid for/i);
    } finally {
      await hf.stop();
    }
  });

  it('refuses a port the proxy may not CONNECT to (403): SERVFAIL, the reason logged once, no connection around it', async () => {
    const hf = await holdfast(`http://127.0.0.1:${proxy.port}`, `tls://127.0.0.1:${untouched.port}#${TEST_SERVER_NAME}`);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await ask(hf.port, `forbidden-${i}.example.test`)).rcode, 'SERVFAIL');
      const w = warnings(hf, 'HF_UPSTREAM_PROXY');
      assert.equal(w.length, 1, `logged once: ${JSON.stringify(hf.logs)}`);
      assert.match(String(w[0].msg), new RegExp(`proxy 127\\.0\\.0\\.1:${proxy.port} refused CONNECT to 127\\.0\\.0\\.1:${untouched.port}: 403 `));
      assert.match(proxy.log(), new RegExp(`Refused CONNECT method on port ${untouched.port}`));
      assert.equal(untouched.connections, 0, 'nothing went around the proxy');
    } finally {
      await hf.stop();
    }
  });
});

describe('#4 - proxies that ask for credentials', () => {
  let authProxy: Tinyproxy;
  before(async () => {
    authProxy = await startTinyproxy({ connectPorts: [dot.port], basicAuth: { user: 'holdfast', password: 's3cret' } });
  });
  after(() => authProxy?.stop());

  it('sends USER:PASS from the URL as Basic credentials tinyproxy accepts, %-escapes decoded', async () => {
    // s3cret written with an escape, as a password with : or @ in it must be.
    const hf = await holdfast(`http://holdfast:s%33cret@127.0.0.1:${authProxy.port}`, `tls://127.0.0.1:${dot.port}#${TEST_SERVER_NAME}`);
    try {
      assert.deepEqual(addresses(await ask(hf.port, 'auth.example.test')), [DOT_ANSWER]);
      assert.ok(!hf.stderr().includes('s3cret') && !hf.stderr().includes('s%33cret'), 'the password is never logged');
    } finally {
      await hf.stop();
    }
  });

  it('fails with the 407 tinyproxy gives without them', async () => {
    const hf = await holdfast(`http://127.0.0.1:${authProxy.port}`, `tls://127.0.0.1:${dot.port}#${TEST_SERVER_NAME}`);
    try {
      assert.equal((await ask(hf.port, 'noauth.example.test')).rcode, 'SERVFAIL');
      assert.match(String(warnings(hf, 'HF_UPSTREAM_PROXY')[0]?.msg), / 407 /);
    } finally {
      await hf.stop();
    }
  });
});

describe('#4 - a proxy that refuses every tunnel (fake, 407)', () => {
  it('gives SERVFAIL with the status in one log line, and never connects to the upstream directly', async () => {
    const fake = await startFakeProxy('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n');
    const hf = await holdfast(`http://127.0.0.1:${fake.port}`, `tls://127.0.0.1:${untouched.port}#${TEST_SERVER_NAME}`);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await ask(hf.port, `refused-${i}.example.test`)).rcode, 'SERVFAIL');
      const w = warnings(hf, 'HF_UPSTREAM_PROXY');
      assert.equal(w.length, 1, `logged once: ${JSON.stringify(w)}`);
      assert.equal(
        w[0].msg,
        `upstream: TLS connection to tls://127.0.0.1:${untouched.port}#${TEST_SERVER_NAME} failed (proxy 127.0.0.1:${fake.port} refused CONNECT to 127.0.0.1:${untouched.port}: 407 Proxy Authentication Required)`,
      );
      assert.ok(fake.requests.length >= 1);
      assert.match(fake.requests[0], new RegExp(`^CONNECT 127\\.0\\.0\\.1:${untouched.port} HTTP/1\\.1\r\nHost: 127\\.0\\.0\\.1:${untouched.port}\r\n`));
      assert.equal(untouched.connections, 0, 'nothing went around the proxy');
    } finally {
      await hf.stop();
      await fake.close();
    }
  });

  it('gives SERVFAIL when nothing listens where the proxy should be, still without going around it', async () => {
    const gone = await startCountingListener();
    const port = gone.port;
    await gone.close();
    const hf = await holdfast(`http://127.0.0.1:${port}`, `tls://127.0.0.1:${untouched.port}#${TEST_SERVER_NAME}`);
    try {
      assert.equal((await ask(hf.port, 'no-proxy.example.test')).rcode, 'SERVFAIL');
      assert.match(String(warnings(hf, 'HF_UPSTREAM_TLS')[0]?.msg), new RegExp(`through proxy 127\\.0\\.0\\.1:${port} failed \\(.*(refused|ECONNREFUSED)`, 'i'));
      assert.equal(untouched.connections, 0);
    } finally {
      await hf.stop();
    }
  });
});

describe('#4 - --proxy on the command line', () => {
  it('serve refuses a proxy URL it cannot use, naming the flag', async () => {
    const r = await runHoldfast(['serve', '--proxy', 'socks5://127.0.0.1:1080', '--upstream', 'tls://127.0.0.1#x', '--listen', '127.0.0.1:0']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--proxy: must be an http:\/\/ proxy/);
  });

  it('relay resolves through the proxy too', async () => {
    const [cmd, ...pre] = holdfastArgv();
    const child = spawn(
      cmd,
      [...pre, 'relay', '--log-format', 'json', '--listen', '127.0.0.1:0', '--proxy', `http://127.0.0.1:${proxy.port}`, '--upstream', `tls://127.0.0.1:${dot.port}#${TEST_SERVER_NAME}`, '--ca-file', pki.caFile],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      let err = '';
      const port = await new Promise<number>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`relay did not start:\n${err}`)), 20_000);
        child.stderr!.on('data', (d) => {
          err += d;
          const m = /"transport":"http"[^\n]*"port":(\d+)/.exec(err);
          if (m && /through HTTP proxy/.test(err)) {
            clearTimeout(deadline);
            resolve(Number(m[1]));
          }
        });
        void exited.then(() => reject(new Error(`relay exited:\n${err}`)));
      });
      const body = encodeRelayRequest({ id: 'p1', items: [{ id: '1', q: query('relay.example.test') }] });
      const res = await fetch(`http://127.0.0.1:${port}/v1/dns`, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 200);
      const [item] = decodeRelayResponse(new Uint8Array(await res.arrayBuffer()), ['1']).items;
      assert.ok(item.ok);
      assert.deepEqual(addresses(decode(item.a)), [DOT_ANSWER]);
      assert.match(proxy.log(), new RegExp(`CONNECT 127\\.0\\.0\\.1:${dot.port} HTTP/1\\.1`));
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(kill);
    }
  });
});
