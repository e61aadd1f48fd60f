// The HTTP port and `holdfast relay` of a real process (the shipped executable on the Bun leg)
// under hostile clients (#15): partial headers, too many connections, a rebound Host, and a
// relay that anyone could reach. Bounds here are generous multiples of the configured
// timeouts (the machine is shared), never tight wall-clock limits.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { decodeRelayResponse, encodeRelayRequest } from '../../src/protocols/relay-v1.ts';
import { runHoldfast, startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';
import { query } from '../helpers/packets.ts';
import { startRelay } from '../helpers/relay-process.ts';

const ab = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;
/** --http-headers-timeout here, in ms (the default is 5 s). */
const HEADERS_TIMEOUT_MS = 2_000;
const CAP = 4;

/** A GET with the Host header we choose (fetch will not send another host's name). */
function getWithHost(port: number, host: string, path = '/api/stats'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.end();
  });
}

/** A raw connection that has sent `text`; `closed` resolves (with what it received) when the server closes it. */
function rawConnection(port: number, text: string) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (d) => (received += d));
  socket.on('error', () => {});
  const connected = new Promise<void>((r) => socket.once('connect', () => r()));
  const closed = new Promise<string>((r) => socket.once('close', () => r(received)));
  void connected.then(() => socket.write(text));
  return { socket, connected, closed };
}

/** `p`, or 'still open' after `ms`: a bound on how long the test waits, not on the server. */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'still open'> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<'still open'>((r) => (timer = setTimeout(() => r('still open'), ms)))]).finally(() => clearTimeout(timer));
}

describe('#15 - the HTTP port of a real holdfast process under hostile clients', () => {
  let hf: HoldfastProcess;
  let port: number;
  before(async () => {
    hf = await startHoldfast(['--upstream', 'udp://127.0.0.1:9', '--http', '0', '--http-max-connections', String(CAP), '--http-headers-timeout', String(HEADERS_TIMEOUT_MS / 1000)]);
    assert.ok(hf.httpPort);
    port = hf.httpPort;
  });
  after(async () => {
    await hf?.stop();
  });

  it('#15 - answers 421 to Host: evil.example (DNS rebinding), and the listen address, localhost and loopback as before', async () => {
    const evil = await getWithHost(port, 'evil.example');
    assert.equal(evil.status, 421);
    assert.doesNotMatch(evil.body, /queries|uptime/);
    assert.equal((await getWithHost(port, `evil.example:${port}`, '/api/queries')).status, 421);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, '127.0.0.1']) {
      const r = await getWithHost(port, host);
      assert.equal(r.status, 200, host);
    }
  });

  it('#15 - closes a connection that trickles partial headers, soon after the header timeout', async () => {
    const c = rawConnection(port, 'GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await c.connected;
    // One header line a second: each byte used to count as activity.
    const trickle = setInterval(() => c.socket.writable && c.socket.write('X-Slow: 1\r\n'), 1_000);
    const started = Date.now();
    // Before #15 such a connection lived 12 s on the Bun executable (Bun.serve's idleTimeout
    // of 10 s, checked coarsely) and ~40 s on Node; the bound is four times the timeout.
    const outcome = await within(c.closed, 4 * HEADERS_TIMEOUT_MS);
    clearInterval(trickle);
    c.socket.destroy();
    assert.notEqual(outcome, 'still open', 'the server kept a connection with partial headers open');
    assert.doesNotMatch(outcome as string, /HTTP\/1\.1 200/, 'a partial request was answered');
    if (process.env.HOLDFAST_TEST_VERBOSE) console.log(`partial headers closed after ${Date.now() - started} ms`);
  });

  it('#15 - closes the connection past --http-max-connections while the others are held, and serves again once they go', async () => {
    const held = Array.from({ length: CAP }, () => rawConnection(port, 'GET / HTTP/1.1\r\n'));
    await Promise.all(held.map((h) => h.connected));
    // Let the server take them in before the next one arrives.
    await new Promise((r) => setTimeout(r, 300));
    const extra = rawConnection(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const got = await within(extra.closed, 4 * HEADERS_TIMEOUT_MS);
    assert.notEqual(got, 'still open');
    assert.equal(got, '', `the connection over the cap was answered: ${got}`);
    for (const h of held) h.socket.destroy();
    // Bounded retries: the server notices the closes on its own schedule.
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = await getWithHost(port, '127.0.0.1', '/healthz').then((r) => r.status, () => 0);
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200);
  });

  it('logs no warning for an HTTP port on loopback', () => {
    assert.equal(hf.logs.filter((l) => l.level === 'warn' && /without a token/.test(String(l.msg))).length, 0);
  });
});

describe('#15 - holdfast relay without a token', () => {
  let nsd: Nsd;
  before(async () => {
    nsd = await startNsd([{ name: 'relay.test', records: 'www IN A 192.0.2.41' }]);
  });
  after(async () => {
    await nsd?.stop();
  });

  it('#15 - refuses to listen beyond loopback unless told --relay-open yes', async () => {
    // Refused before anything is bound, so this binds nothing beyond loopback.
    const r = await runHoldfast(['relay', '--listen', '0.0.0.0:0', '--upstream', `udp://127.0.0.1:${nsd.port}`]);
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /without a token/);
    assert.match(r.stderr, /--relay-open yes/);
  });

  it('#15 - limits each client\'s items per second (--relay-rate-limit), answering the rest rate_limited', async () => {
    const relay = await startRelay(['--upstream', `udp://127.0.0.1:${nsd.port}`, '--relay-rate-limit', '1', '--relay-rate-limit-burst', '2']);
    try {
      const ids = ['1', '2', '3', '4', '5'];
      const body = encodeRelayRequest({ id: 'b', items: ids.map((id) => ({ id, q: query('www.relay.test') })) });
      const res = await fetch(`http://127.0.0.1:${relay.port}/v1/dns`, { method: 'POST', body: ab(body), headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 200);
      const r = decodeRelayResponse(new Uint8Array(await res.arrayBuffer()), ids);
      const outcomes = r.items.map((i) => (i.ok ? 'ok' : i.err));
      // One token may have come back in the time the request took: 2 or 3 answered, never 5.
      assert.ok(outcomes.filter((o) => o === 'rate_limited').length >= 2, outcomes.join(' '));
      assert.ok(outcomes.filter((o) => o === 'ok').length >= 2, outcomes.join(' '));
    } finally {
      await relay.stop();
    }
  });

  it('#15 - answers 421 to a Host that is not ours', async () => {
    const relay = await startRelay(['--upstream', `udp://127.0.0.1:${nsd.port}`]);
    try {
      assert.equal((await getWithHost(relay.port, 'evil.example', '/v1/info')).status, 421);
      assert.equal((await getWithHost(relay.port, `127.0.0.1:${relay.port}`, '/v1/info')).status, 200);
    } finally {
      await relay.stop();
    }
  });
});
