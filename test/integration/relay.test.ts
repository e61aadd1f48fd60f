// `holdfast relay` as a real process (this runtime's build) in front of a real NSD, asked over
// real HTTP/1.1 in relay protocol v1.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { decodeRelayInfo, decodeRelayResponse, encodeRelayRequest } from '../../src/protocols/relay-v1.ts';
import { decode, query } from '../helpers/packets.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';
import { runHoldfast } from '../helpers/holdfast-process.ts';
import { startRelay } from '../helpers/relay-process.ts';
import { holdfastArgv } from '../helpers/runtime.ts';
import { until } from '../helpers/until.ts';

const ab = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

describe('holdfast relay (real process, real NSD)', () => {
  let nsd: Nsd;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  before(async () => {
    nsd = await startNsd([{ name: 'relay.test', records: 'www IN A 192.0.2.41\nmail IN A 192.0.2.42' }]);
    relay = await startRelay(['--upstream', `udp://127.0.0.1:${nsd.port}`, '--relay-token', 'tok-123']);
  });
  after(async () => {
    await relay?.stop();
    await nsd?.stop();
  });

  it('answers a gzipped batch, per item, with a gzipped response', async () => {
    const body = encodeRelayRequest({
      id: 'b1',
      items: [
        { id: '1', q: query('www.relay.test') },
        { id: '2', q: query('mail.relay.test') },
        { id: '3', q: query('nothing.relay.test') },
      ],
    });
    const gz = new Uint8Array(await new Response(new Blob([ab(body)]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
    const res = await fetch(`http://127.0.0.1:${relay.port}/v1/dns`, {
      method: 'POST',
      body: ab(gz),
      headers: { 'content-type': 'application/json', accept: 'application/json', 'content-encoding': 'gzip', authorization: 'Bearer tok-123' },
    });
    assert.equal(res.status, 200);
    // fetch undoes the gzip itself; the header says the relay did it.
    assert.equal(res.headers.get('content-encoding'), 'gzip');
    const r = decodeRelayResponse(new Uint8Array(await res.arrayBuffer()), ['1', '2', '3']);
    assert.equal(r.id, 'b1');
    const answers = r.items.map((i) => (i.ok ? decode(i.a) : null));
    assert.deepEqual(answers[0]?.answers?.map((a) => a.data), ['192.0.2.41']);
    assert.deepEqual(answers[1]?.answers?.map((a) => a.data), ['192.0.2.42']);
    assert.equal(answers[2]?.rcode, 'NXDOMAIN');
  });

  it('refuses a batch without the token, and reports itself at /v1/info', async () => {
    const body = encodeRelayRequest({ id: 'x', items: [{ id: '1', q: query('www.relay.test') }] });
    const res = await fetch(`http://127.0.0.1:${relay.port}/v1/dns`, { method: 'POST', body: ab(body), headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 401);
    await res.arrayBuffer();
    const info = await fetch(`http://127.0.0.1:${relay.port}/v1/info`);
    assert.equal(info.status, 200);
    const doc = decodeRelayInfo(new Uint8Array(await info.arrayBuffer()));
    assert.equal(doc.v, 1);
    assert.equal(doc.auth_required, true);
    assert.equal(doc.limits.max_items, 32);
  });
});

describe('holdfast relay with its defaults', () => {
  it('starts with no --log-format, logging in the pretty format', async () => {
    const [cmd, ...pre] = holdfastArgv();
    const child = spawn(cmd, [...pre, 'relay', '--listen', '127.0.0.1:0', '--upstream', 'udp://127.0.0.1:9'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await until(() => /relay listening on http 127\.0\.0\.1:\d+/.test(err) || child.exitCode !== null, 15_000);
      assert.match(err, /relay listening on http 127\.0\.0\.1:\d+/);
      assert.doesNotMatch(err, /^\{/m, 'not JSON');
    } finally {
      if (child.exitCode === null) process.kill(child.pid!, 'SIGTERM');
      await exited;
    }
  });
});

describe('holdfast relay: its CA file', () => {
  const missing = '/nonexistent/holdfast-test/ca.pem';
  /** stderr's non-empty lines. */
  const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

  it('#10 - refuses a --ca-file that does not exist, in the words serve uses, instead of trusting the system store', async () => {
    const common = ['--listen', '127.0.0.1:0', '--upstream', 'tls://127.0.0.1:853#dns.example', '--ca-file', missing];
    const relay = await runHoldfast(['relay', ...common]);
    const serve = await runHoldfast(['serve', ...common]);
    assert.equal(serve.code, 2, serve.stderr);
    assert.equal(relay.code, serve.code, relay.stderr);
    assert.equal(lines(relay.stderr).length, 1, relay.stderr);
    assert.match(relay.stderr, new RegExp(`--ca-file: ${missing} does not exist`));
    assert.equal(lines(relay.stderr)[0], lines(serve.stderr)[0]);
  });
});
