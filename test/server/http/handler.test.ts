import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG, type ServerConfig } from '../../../src/config/config.ts';
import { createCounters } from '../../../src/core/counters.ts';
import { createLatencyHistograms } from '../../../src/core/latency.ts';
import type { CorePorts } from '../../../src/core/ports.ts';
import { createPipeline } from '../../../src/pipeline/chain.ts';
import { attachPrefetcher } from '../../../src/services/prefetch/prefetcher.ts';
import { createBearerCheck, sameSecret } from '../../../src/server/http/auth.ts';
import { EXPOSITION_CONTENT_TYPE } from '../../../src/server/http/exposition.ts';
import { createHttpHandler, type HttpView } from '../../../src/server/http/handler.ts';
import { createStaleWatch } from '../../../src/server/http/health.ts';
import { createQueryLog, type QueryLog } from '../../../src/server/query-log.ts';
import { createFakeTime } from '../../helpers/fake-clock.ts';
import { createFakeNet } from '../../helpers/fake-net.ts';

const PEER = { address: '127.0.0.1', port: 40000 };

function setup(token: string | null = null, queryLog: QueryLog | null = null, upstreams = ['udp://192.0.2.1', 'udp://192.0.2.2'], extra: Partial<ServerConfig> = {}, networkChanged?: (why: string) => void) {
  const time = createFakeTime();
  const ports: CorePorts = { clock: time, timers: time, entropy: { random: () => 0.5, id16: () => 1 }, net: createFakeNet({}).net };
  const config: ServerConfig = { ...DEFAULT_CONFIG, upstreams, ...extra };
  const counters = createCounters();
  const pipeline = createPipeline(config, ports, counters);
  const state = { bound: true };
  const view: HttpView = {
    config,
    counters,
    latency: createLatencyHistograms(),
    pipeline,
    prefetcher: attachPrefetcher(pipeline, config, ports, counters),
    startedAtMs: time.now(),
    version: '0.0.0',
    runtime: 'test',
    get listenersBound() {
      return state.bound;
    },
    listeners: [{ transport: 'udp', address: '127.0.0.1', port: 5353 }],
    queryLog,
    networkChanged,
  };
  const staleWatch = createStaleWatch(counters, time, time);
  const handler = createHttpHandler(view, { token, clock: time, staleWatch });
  const get = async (path: string, init: RequestInit = {}) => handler(new Request(`http://holdfast.test${path}`, init), PEER);
  return { time, counters, pipeline, state, get };
}

const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });

describe('http: secrets', () => {
  it('#15 - shows no relay token or proxy password in /metrics, /readyz or /api/stats', async () => {
    const s = setup(null, null, ['relay+https://relay.example/dns?token=s3cr3t-relay-token', 'udp://192.0.2.1']);
    for (const path of ['/metrics', '/readyz', '/api/stats']) {
      const body = await (await s.get(path)).text();
      assert.ok(body.includes('relay.example'), `${path} names the relay`);
      assert.ok(!body.includes('s3cr3t-relay-token'), `${path} shows the token:\n${body}`);
      assert.ok(body.includes('token=****'), `${path} says a token is set`);
    }
  });
});

describe('http: paths', () => {
  it('/healthz answers 200 "ok"', async () => {
    const r = await setup().get('/healthz');
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'ok\n');
    assert.equal(r.headers.get('cache-control'), 'no-store');
  });

  it('/metrics answers the Prometheus text format with its content type', async () => {
    const r = await setup().get('/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), EXPOSITION_CONTENT_TYPE);
    const body = await r.text();
    assert.match(body, /^# HELP holdfast_queries_total /);
    assert.match(body, /^holdfast_queries_total\{transport="udp"\} 0$/m);
  });

  it('/readyz answers 200 with listeners, upstreams and their state, reachable and servingStale', async () => {
    const r = await setup().get('/readyz');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json');
    const body = await r.json();
    assert.equal(body.ready, true);
    assert.deepEqual(body.listeners, [{ transport: 'udp', address: '127.0.0.1', port: 5353 }]);
    assert.deepEqual(
      body.upstreams.map((u: { label: string; state: string; srttMs: number | null }) => [u.label, u.state, u.srttMs]),
      [
        ['udp://192.0.2.1', 'closed', null],
        ['udp://192.0.2.2', 'closed', null],
      ],
    );
    assert.equal(body.reachable, true);
    assert.equal(body.servingStale, false);
  });

  it('/readyz is 503 while the listeners are not bound', async () => {
    const s = setup();
    s.state.bound = false;
    const r = await s.get('/readyz');
    assert.equal(r.status, 503);
    assert.equal((await r.json()).ready, false);
  });

  it('/readyz stays 200 when degraded: no upstream reachable, stale answers served', async () => {
    const s = setup();
    for (const h of s.pipeline.upstreams.health) for (let i = 0; i < DEFAULT_CONFIG.upstream.breakerFailures; i++) h.breaker.failure(s.time.now());
    s.counters.answers_stale++;
    const r = await s.get('/readyz');
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.reachable, false);
    assert.equal(body.servingStale, true);
    assert.deepEqual(body.upstreams.map((u: { state: string }) => u.state), ['open', 'open']);
  });

  it("#14 - /readyz and /api/stats show each forward zone's upstreams with their zone; a zone that is down does not make the server unreachable", async () => {
    const s = setup(null, null, ['udp://192.0.2.1'], { forward: { zones: ['corp.example=udp://10.8.0.1,udp://10.8.0.2', 'lab.example=udp://10.9.0.1'] } });
    const corp = s.pipeline.pools.find((p) => p.zone === 'corp.example')!;
    for (const h of corp.pool.health) for (let i = 0; i < DEFAULT_CONFIG.upstream.breakerFailures; i++) h.breaker.failure(s.time.now());
    const body = await (await s.get('/readyz')).json();
    assert.deepEqual(
      body.upstreams.map((u: { label: string; zone: string | null; state: string }) => `${u.zone ?? 'main'} ${u.label} ${u.state}`),
      ['main udp://192.0.2.1 closed', 'corp.example udp://10.8.0.1 open', 'corp.example udp://10.8.0.2 open', 'lab.example udp://10.9.0.1 closed'],
    );
    assert.equal(body.reachable, true);
    assert.deepEqual(body.zones, [
      { zone: 'corp.example', reachable: false },
      { zone: 'lab.example', reachable: true },
    ]);
    const stats = await (await s.get('/api/stats')).json();
    assert.deepEqual(
      stats.upstreams.map((u: { zone: string | null; queries: number }) => `${u.zone ?? 'main'} ${u.queries}`),
      ['main 0', 'corp.example 0', 'corp.example 0', 'lab.example 0'],
    );
    assert.deepEqual(stats.zones, body.zones);
  });

  it('answers 404 to an unknown path and 405 to a method other than GET or HEAD', async () => {
    const s = setup();
    assert.equal((await s.get('/nope')).status, 404);
    const post = await s.get('/metrics', { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const r = await setup().get('/metrics', { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), EXPOSITION_CONTENT_TYPE);
    assert.equal(r.body, null);
  });
});

describe('http: bearer token', () => {
  it('answers 401 with a challenge without the token, on every path but /healthz', async () => {
    const s = setup('s3cret-token');
    for (const path of ['/metrics', '/readyz', '/nope']) {
      const r = await s.get(path);
      assert.equal(r.status, 401, path);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="holdfast"');
      assert.doesNotMatch(await r.text(), /holdfast_/);
    }
    assert.equal((await s.get('/healthz')).status, 200);
  });

  it('accepts the right token, with the scheme in any letter case', async () => {
    const s = setup('s3cret-token');
    assert.equal((await s.get('/metrics', bearer('s3cret-token'))).status, 200);
    assert.equal((await s.get('/readyz', { headers: { authorization: 'bearer s3cret-token' } })).status, 200);
  });

  it('refuses a wrong token, a prefix or extension of it, another scheme, and a token in the wrong case', async () => {
    const s = setup('s3cret-token');
    for (const auth of ['Bearer s3cret', 'Bearer s3cret-token2', 'Bearer S3CRET-TOKEN', 'Basic s3cret-token', 's3cret-token', 'Bearer ', '']) {
      assert.equal((await s.get('/metrics', { headers: { authorization: auth } })).status, 401, auth);
    }
  });
});

describe('http: constant-time comparison', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  it('is true only for the same bytes', () => {
    assert.equal(sameSecret('abc', enc('abc')), true);
    assert.equal(sameSecret('abd', enc('abc')), false);
    assert.equal(sameSecret('ab', enc('abc')), false);
    assert.equal(sameSecret('abcd', enc('abc')), false);
    assert.equal(sameSecret('', enc('abc')), false);
    assert.equal(sameSecret('\u00e9', enc('\u00e9')), true);
  });

  it('lets everything through when no token is configured', () => {
    assert.equal(createBearerCheck(null)(null), true);
    assert.equal(createBearerCheck('t')(null), false);
  });
});

describe('http: the status page and its API', () => {
  it('/ answers 401 without the token, with the page\'s static shell so a browser can ask for it; 200 with it', async () => {
    const s = setup('tok');
    const r = await s.get('/');
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="holdfast"');
    assert.equal((await s.get('/', bearer('tok'))).status, 200);
    assert.equal((await setup(null).get('/')).status, 200, 'no token configured: open');
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /connect-src 'self'/);
    const html = await r.text();
    assert.match(html, /^<!doctype html>/);
    // No external assets: nothing fetched from elsewhere, not even a favicon.
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
    assert.match(html, /<link rel="icon" href="data:,">/);
  });

  it('/api/stats needs the token and gives counts, hit ratio, cache, upstreams and top names', async () => {
    const s = setup('tok');
    assert.equal((await s.get('/api/stats')).status, 401);
    s.counters.queries_udp = 10;
    s.counters.answers_cache_fresh = 6;
    s.counters.answers_negative = 1;
    s.counters.answers_upstream = 3;
    const body = await (await s.get('/api/stats', bearer('tok'))).json();
    assert.deepEqual(body.queries, { udp: 10, tcp: 0 });
    assert.equal(body.hitRatio, 0.7);
    assert.deepEqual(body.cache, { entries: 0, maxEntries: DEFAULT_CONFIG.cache.maxEntries });
    assert.deepEqual(body.upstreams.map((u: { label: string }) => u.label), ['udp://192.0.2.1', 'udp://192.0.2.2']);
    assert.deepEqual(body.topNames, []);
    assert.equal(body.reachable, true);
  });

  it('/api/queries says the log is off when it is, and gives the newest first, up to limit, when on', async () => {
    const off = await (await setup().get('/api/queries')).json();
    assert.deepEqual(off, { enabled: false, capacity: 0, queries: [] });
    const log = createQueryLog(10);
    const entry = (n: number) => ({ timeMs: n }) as never;
    // Recorded through the log's own API in query-log.test.ts; here only the route's shape matters.
    const fake: QueryLog = { capacity: 10, record: () => {}, add: () => {}, recent: (limit = 10) => [entry(3), entry(2), entry(1)].slice(0, limit) };
    const on = await (await setup(null, fake).get('/api/queries?limit=2')).json();
    assert.equal(on.enabled, true);
    assert.equal(on.capacity, 10);
    assert.deepEqual(on.queries.map((q: { timeMs: number }) => q.timeMs), [3, 2]);
    assert.equal((await (await setup(null, log).get('/api/queries?limit=x')).json()).enabled, true);
  });
});

describe('#12 - POST /api/network-changed', () => {
  it('redials on POST with the token, and refuses without it or with GET', async () => {
    const told: string[] = [];
    const s = setup('t0ken', null, undefined, {}, (why) => told.push(why));
    assert.equal((await s.get('/api/network-changed', { method: 'POST' })).status, 401);
    assert.equal((await s.get('/api/network-changed', { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status, 401);
    const get = await s.get('/api/network-changed', bearer('t0ken'));
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.deepEqual(told, []);
    const r = await s.get('/api/network-changed', { method: 'POST', ...bearer('t0ken') });
    assert.equal(r.status, 202);
    assert.deepEqual(told, ['POST /api/network-changed']);
  });

  it('is 404 where nothing can be redialled', async () => {
    assert.equal((await setup().get('/api/network-changed', { method: 'POST' })).status, 404);
  });
});
