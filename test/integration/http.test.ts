// The HTTP endpoint of a real holdfast process (this runtime's build), asked over real HTTP
// with fetch, in front of a real NSD; /metrics checked by Prometheus's own promtool.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dig } from '../helpers/dns-client.ts';
import { runHoldfast, startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';

const PROMTOOL = (process.env.PATH ?? '').split(':').map((d) => `${d}/promtool`).find((p) => existsSync(p)) ?? null;
const NO_PROMTOOL = 'promtool is missing: install Debian\'s "prometheus" package (bash .ci/run does)';

/** `promtool check metrics` on `text`: its exit code and what it said. */
function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(PROMTOOL!, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
    child.stdin!.end(text);
  });
}

async function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string | null; body: string; headers: Headers }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  return { status: r.status, type: r.headers.get('content-type'), body: await r.text(), headers: r.headers };
}

/** Sample lines of an exposition as "name{labels}" → value. */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    m.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return m;
}

describe('the HTTP endpoint of a real holdfast process in front of NSD', () => {
  let nsd: Nsd;
  let hf: HoldfastProcess;
  let http: number;
  let upstream: string;
  before(async () => {
    nsd = await startNsd([{ name: 'metrics.test', records: 'www IN A 192.0.2.80\nmore IN A 192.0.2.81' }]);
    upstream = `udp://127.0.0.1:${nsd.port}`;
    hf = await startHoldfast(['--upstream', upstream, '--http', '0']);
    assert.ok(hf.httpPort, 'the http listener is logged');
    http = hf.httpPort;
  });
  after(async () => {
    await hf?.stop();
    await nsd?.stop();
  });

  it('listens on loopback when given a port alone', () => {
    const line = hf.logs.find((l) => l.transport === 'http');
    assert.equal(line?.address, '127.0.0.1');
  });

  it('/healthz answers 200 "ok"', async () => {
    const r = await get(http, '/healthz');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok\n');
  });

  it('/metrics at start passes promtool check metrics, every family present at zero', { skip: PROMTOOL ? false : NO_PROMTOOL }, async () => {
    const r = await get(http, '/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8');
    const check = await promtoolCheck(r.body);
    assert.equal(check.code, 0, check.output);
    const s = samples(r.body);
    assert.equal(s.get('holdfast_answers_total{outcome="fresh_hit"}'), 0);
    assert.equal(s.get(`holdfast_upstream_breaker_state{upstream="${upstream}"}`), 0);
    assert.equal(s.get('holdfast_answer_duration_seconds_bucket{source="cache-fresh",le="+Inf"}'), 0);
  });

  it('/readyz answers 200 with the bound listeners, the upstream, reachable and not serving stale', async () => {
    const r = await get(http, '/readyz');
    assert.equal(r.status, 200);
    assert.equal(r.type, 'application/json');
    const body = JSON.parse(r.body);
    assert.equal(body.ready, true);
    assert.deepEqual(
      body.listeners.map((l: { transport: string; port: number }) => `${l.transport}:${l.port}`).sort(),
      [`tcp:${hf.port}`, `udp:${hf.port}`],
    );
    assert.equal(body.upstreams[0].label, upstream);
    assert.equal(body.upstreams[0].state, 'closed');
    assert.equal(body.reachable, true);
    assert.equal(body.servingStale, false);
  });

  it('counts a real miss as upstream and its repeat as a fresh hit, and measures the upstream', async () => {
    const before = samples((await get(http, '/metrics')).body);
    assert.equal((await dig(hf.port, ['www.metrics.test', 'A', '+short'])).stdout.trim(), '192.0.2.80');
    assert.equal((await dig(hf.port, ['www.metrics.test', 'A', '+short'])).stdout.trim(), '192.0.2.80');
    const after = samples((await get(http, '/metrics')).body);
    const delta = (k: string) => (after.get(k) ?? NaN) - (before.get(k) ?? NaN);
    assert.equal(delta('holdfast_queries_total{transport="udp"}'), 2);
    assert.equal(delta('holdfast_answers_total{outcome="upstream"}'), 1);
    assert.equal(delta('holdfast_answers_total{outcome="fresh_hit"}'), 1);
    assert.equal(delta(`holdfast_upstream_queries_total{upstream="${upstream}"}`), 1);
    assert.equal(delta(`holdfast_upstream_replies_total{upstream="${upstream}"}`), 1);
    assert.equal(delta('holdfast_answer_duration_seconds_count{source="cache-fresh"}'), 1);
    assert.equal(delta('holdfast_answer_duration_seconds_count{source="upstream"}'), 1);
    assert.ok((after.get('holdfast_cache_entries') ?? 0) >= 1);
    // One A answer counts its wire bytes plus the entry's fixed part (store.ts entryBytes): well
    // over 100 bytes since #11, which stopped counting 512 bytes of objects per entry.
    assert.ok((after.get('holdfast_cache_bytes') ?? 0) > 100, 'the cached answer is counted in bytes');
    assert.ok((after.get('holdfast_cache_bytes') ?? 0) <= (after.get('holdfast_cache_max_bytes') ?? 0));
    // On loopback a reply can come back within the clock's millisecond, so a measured RTT may be
    // 0 (the gauge's value before any measurement too): /readyz tells them apart (null: none yet).
    assert.ok((after.get(`holdfast_upstream_srtt_seconds{upstream="${upstream}"}`) ?? -1) >= 0, 'the RTT is shown');
    const ready = JSON.parse((await get(http, '/readyz')).body);
    assert.equal(typeof ready.upstreams[0].srttMs, 'number', 'an RTT was measured');
  });

  it('/metrics after real traffic still passes promtool check metrics', { skip: PROMTOOL ? false : NO_PROMTOOL }, async () => {
    await dig(hf.port, ['more.metrics.test', 'A', '+tcp', '+short']);
    await dig(hf.port, ['nothing.metrics.test', 'A', '+short']);
    const r = await get(http, '/metrics');
    const check = await promtoolCheck(r.body);
    assert.equal(check.code, 0, check.output);
    const s = samples(r.body);
    assert.ok((s.get('holdfast_queries_total{transport="tcp"}') ?? 0) >= 1);
  });

  it('answers 404 to an unknown path', async () => {
    assert.equal((await get(http, '/nope')).status, 404);
  });

  it('refuses to start a second server on the same HTTP port, naming it (exit 2)', async () => {
    const r = await runHoldfast(['serve', '--listen', '127.0.0.1:0', '--upstream', upstream, '--http', String(http)]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`http: 127\\.0\\.0\\.1:${http} is already in use`));
  });
});

describe('the HTTP endpoint with a bearer token from HOLDFAST_HTTP_TOKEN', () => {
  const TOKEN = 'tok-8d2f1c';
  let nsd: Nsd;
  let hf: HoldfastProcess;
  let http: number;
  before(async () => {
    nsd = await startNsd([{ name: 'token.test', records: 'www IN A 192.0.2.90' }]);
    hf = await startHoldfast(['--upstream', `udp://127.0.0.1:${nsd.port}`, '--http', '127.0.0.1:0'], { env: { HOLDFAST_HTTP_TOKEN: TOKEN } });
    http = hf.httpPort!;
  });
  after(async () => {
    await hf?.stop();
    await nsd?.stop();
  });

  it('answers /metrics and /readyz 401 without the token, and with a wrong one', async () => {
    for (const path of ['/metrics', '/readyz']) {
      const none = await get(http, path);
      assert.equal(none.status, 401, path);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="holdfast"');
      assert.doesNotMatch(none.body, /holdfast_|upstreams/);
      assert.equal((await get(http, path, { authorization: `Bearer ${TOKEN}x` })).status, 401, path);
    }
  });

  it('answers with the token', async () => {
    const m = await get(http, '/metrics', { authorization: `Bearer ${TOKEN}` });
    assert.equal(m.status, 200);
    assert.match(m.body, /^holdfast_queries_total\{transport="udp"\} 0$/m);
    assert.equal((await get(http, '/readyz', { authorization: `Bearer ${TOKEN}` })).status, 200);
  });

  it('answers /healthz without the token', async () => {
    assert.equal((await get(http, '/healthz')).status, 200);
  });
});
