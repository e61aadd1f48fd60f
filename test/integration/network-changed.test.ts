// #12: the shipped server told that the network changed (SIGUSR2, POST /api/network-changed)
// drops its pooled connections to real DoT (unbound) and DoH (dnsdist) upstreams at once and
// redials: one log line, new connections, and answers right after.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { askA } from '../helpers/dns-client.ts';
import { startDnsdistDoh, startUnboundDot, type EncryptedServer } from '../helpers/encrypted-servers.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { createTestPki, TEST_SERVER_NAME, type TestPki } from '../helpers/tls-certs.ts';
import { until } from '../helpers/until.ts';

const TOKEN = 'n3twork-t0ken';
let pki: TestPki;
let dot: EncryptedServer;
let doh: EncryptedServer;
let hf: HoldfastProcess;

/** holdfast_upstream_connections_total from /metrics. */
async function connections(): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${hf.httpPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const m = /^holdfast_upstream_connections_total (\d+)$/m.exec(await r.text());
  assert.ok(m, 'the metric is there');
  return Number(m[1]);
}

const changedLines = () => hf.logs.filter((l) => l.event === 'network-changed');

/** Asks distinct names until both upstreams have a connection (each query goes to one). */
async function warm(prefix: string): Promise<void> {
  for (let i = 0; i < 40 && (await connections()) < 2; i++) {
    const d = await askA(hf.port, `${prefix}${i}.example.test`, 5000);
    assert.equal(d.rcode, 'NOERROR');
  }
  assert.ok((await connections()) >= 2, 'both upstreams connected');
}

describe('#12 - network changed: SIGUSR2 and POST /api/network-changed', () => {
  before(async () => {
    pki = createTestPki();
    dot = await startUnboundDot({ cert: pki.good });
    doh = await startDnsdistDoh({ cert: pki.good });
    hf = await startHoldfast([
      '--upstream', `tls://127.0.0.1:${dot.port}#${TEST_SERVER_NAME}`,
      '--upstream', `https://127.0.0.1:${doh.port}/dns-query#${TEST_SERVER_NAME}`,
      '--ca-file', pki.caFile,
      '--http', '127.0.0.1:0',
      '--http-token', TOKEN,
      '--network-check-seconds', '0',
    ]);
  });
  after(async () => {
    await hf?.stop();
    await dot?.stop();
    await doh?.stop();
    pki?.remove();
  });

  it('SIGUSR2 drops the connections, logs one line, and the next queries redial and are answered', async () => {
    await warm('before-usr2-');
    const before = await connections();
    hf.child.kill('SIGUSR2');
    assert.ok(await until(() => changedLines().length === 1, 5000), 'a network-changed line');
    assert.match(String(changedLines()[0].msg), /network changed \(SIGUSR2\)/);
    const d = await askA(hf.port, 'after-usr2.example.test', 5000);
    assert.equal(d.rcode, 'NOERROR');
    assert.ok((await connections()) > before, 'a new connection was dialled');
  });

  it('POST /api/network-changed needs the token, then does the same', async () => {
    // Past the one-second merge window of the SIGUSR2 above.
    await new Promise((r) => setTimeout(r, 1100));
    await warm('before-post-');
    const url = `http://127.0.0.1:${hf.httpPort}/api/network-changed`;
    assert.equal((await fetch(url, { method: 'POST' })).status, 401);
    assert.equal(changedLines().length, 1);
    const before = await connections();
    const r = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 202);
    assert.ok(await until(() => changedLines().length === 2, 5000), 'a second network-changed line');
    assert.match(String(changedLines()[1].msg), /POST \/api\/network-changed/);
    const d = await askA(hf.port, 'after-post.example.test', 5000);
    assert.equal(d.rcode, 'NOERROR');
    assert.ok((await connections()) > before, 'a new connection was dialled');
  });
});
