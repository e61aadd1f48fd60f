import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG, type ServerConfig } from '../../../src/config/config.ts';
import { CounterName, createCounters } from '../../../src/core/counters.ts';
import { createHandle } from '../../../src/core/handle.ts';
import { createLatencyHistograms } from '../../../src/core/latency.ts';
import type { CorePorts, Peer } from '../../../src/core/ports.ts';
import { createPipeline } from '../../../src/pipeline/chain.ts';
import { attachPrefetcher } from '../../../src/services/prefetch/prefetcher.ts';
import { formatExposition } from '../../../src/server/http/exposition.ts';
import { COUNTER_METRICS, createMetricsCollector, type MetricsView } from '../../../src/server/http/metrics.ts';
import { createFakeTime } from '../../helpers/fake-clock.ts';
import { createFakeNet, peerKey } from '../../helpers/fake-net.ts';
import { query, reply } from '../../helpers/packets.ts';

const UPSTREAM: Peer = { address: '192.0.2.53', port: 53 };
const LABEL = `udp://${UPSTREAM.address}:53`;

/** A real pipeline over a fake network, and what /metrics would show of it. */
function setup(upstreams: string[] = [LABEL], config: Partial<ServerConfig> = {}) {
  const time = createFakeTime();
  const { net } = createFakeNet({
    [peerKey(UPSTREAM.address, UPSTREAM.port)]: {
      udp: (q, send) => send(reply(q, { answers: [{ type: 'A', name: 'www.example.org', ttl: 300, class: 'IN', data: '192.0.2.1' }] })),
    },
  });
  const ports: CorePorts = { clock: time, timers: time, entropy: { random: () => 0.5, id16: () => 0x4242 }, net };
  const counters = createCounters();
  const full: ServerConfig = { ...DEFAULT_CONFIG, ...config, upstreams };
  const pipeline = createPipeline(full, ports, counters);
  const latency = createLatencyHistograms();
  const handle = createHandle(pipeline.chain, counters, { latency: { histograms: latency, now: () => 0 } });
  const prefetcher = attachPrefetcher(pipeline, full, ports, counters);
  // One block list, so its families show (they are left out when no list is set).
  const blockLists = { status: () => [{ list: 'ads.txt', kind: 'file' as const, names: 2, bytes: 100, updatedAtMs: time.now(), blocked: 0, lastError: null }] };
  const view: MetricsView = { config: full, counters, latency, pipeline, prefetcher, startedAtMs: time.now(), version: '9.9.9', runtime: 'test', blockLists };
  const collect = createMetricsCollector(view);
  const scrape = () => samples(formatExposition(collect(time.now())));
  const ask = (name: string) => handle(query(name, 'A'), { address: '127.0.0.1', port: 5555, transport: 'udp' });
  return { time, counters, pipeline, view, collect, scrape, ask };
}

/** Every sample line as "name{labels}" → value. */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    m.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return m;
}

function key(family: string, labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return parts.length ? `${family}{${parts.join(',')}}` : family;
}

describe('#14 - metrics: forward zones\' upstreams', () => {
  it('shows each zone\'s upstreams in the holdfast_upstream_* families with a zone label, the main ones unchanged', () => {
    const { scrape, pipeline, time } = setup([LABEL], { forward: { zones: ['corp.example=udp://10.8.0.1', 'lab.example=udp://192.0.2.53:53'] } });
    const corp = pipeline.pools.find((p) => p.zone === 'corp.example')!;
    for (let i = 0; i < DEFAULT_CONFIG.upstream.breakerFailures; i++) corp.pool.health[0].breaker.failure(time.now());
    const s = scrape();
    assert.equal(s.get(key('holdfast_upstream_breaker_state', { upstream: LABEL })), 0);
    assert.equal(s.get(key('holdfast_upstream_breaker_state', { upstream: 'udp://10.8.0.1', zone: 'corp.example' })), 2);
    // The same server in the main list and in a zone: two series.
    assert.equal(s.get(key('holdfast_upstream_breaker_state', { upstream: LABEL, zone: 'lab.example' })), 0);
    for (const family of ['holdfast_upstream_queries_total', 'holdfast_upstream_replies_total', 'holdfast_upstream_failures_total', 'holdfast_upstream_srtt_seconds', 'holdfast_upstream_rto_seconds', 'holdfast_upstream_loss_ratio', 'holdfast_upstream_in_flight']) {
      assert.ok(s.has(key(family, { upstream: 'udp://10.8.0.1', zone: 'corp.example' })), family);
      assert.ok(s.has(key(family, { upstream: LABEL })), family);
    }
  });
});

describe('metrics: the counter mapping', () => {
  it('maps every counter, and no two to the same series', () => {
    assert.deepEqual(Object.keys(COUNTER_METRICS).sort(), [...CounterName].sort());
    const series = Object.values(COUNTER_METRICS)
      .filter((t) => t !== null)
      .map(([family, labels]) => key(family, labels));
    assert.equal(new Set(series).size, series.length);
  });

  it('shows each mapped counter in its own series', () => {
    const { counters, scrape } = setup();
    CounterName.forEach((name, i) => (counters[name] = 1000 + i));
    const shown = scrape();
    CounterName.forEach((name, i) => {
      const target = COUNTER_METRICS[name];
      if (target) assert.equal(shown.get(key(...target)), 1000 + i, name);
    });
  });

  it('names every family holdfast_*, counters ending in _total', () => {
    const { collect, time } = setup();
    for (const f of collect(time.now())) {
      assert.match(f.name, /^holdfast_[a-z_]+$/);
      if (f.type === 'counter') assert.match(f.name, /_total$/, f.name);
      else assert.doesNotMatch(f.name, /_total$/, f.name);
      assert.ok(f.help.length > 10, `${f.name} has help`);
    }
  });
});

describe('metrics: docs/metrics.md', () => {
  it('documents every family shown, and none that is not', () => {
    const { collect, time } = setup();
    const shown = collect(time.now()).map((f) => f.name).sort();
    const doc = readFileSync('docs/metrics.md', 'utf8');
    const documented = [...new Set([...doc.matchAll(/^\| `(holdfast_[a-z_]+)` \|/gm)].map((m) => m[1]))].sort();
    assert.deepEqual(documented, shown);
  });
});

describe('metrics: at start', () => {
  it('shows every family with its samples at zero before any query', () => {
    const { collect, time } = setup();
    const families = collect(time.now());
    const nonZeroByDesign = new Set([
      'holdfast_upstream_rto_seconds',
      'holdfast_cache_max_entries',
      'holdfast_block_list_names',
      'holdfast_cache_max_bytes',
      'holdfast_prefetch_budget_queries_per_minute',
      'holdfast_build_info',
      'holdfast_start_time_seconds',
    ]);
    for (const f of families) {
      assert.ok(f.samples.length > 0, `${f.name} has samples from the start`);
      if (nonZeroByDesign.has(f.name)) continue;
      for (const s of f.samples) {
        if ('value' in s) assert.equal(s.value, 0, `${f.name} ${JSON.stringify(s.labels)}`);
        else assert.ok(s.counts.every((c) => c === 0) && s.sum === 0, f.name);
      }
    }
  });

  it('labels the per-upstream series with the upstream as written, unique even when given twice', () => {
    const { scrape } = setup([LABEL, LABEL]);
    const shown = scrape();
    assert.equal(shown.get(`holdfast_upstream_breaker_state{upstream="${LABEL}"}`), 0);
    assert.equal(shown.get(`holdfast_upstream_breaker_state{upstream="${LABEL}#2"}`), 0);
    assert.equal(shown.get(`holdfast_upstream_rto_seconds{upstream="${LABEL}"}`), DEFAULT_CONFIG.upstream.rtoInitialMs / 1000);
  });
});

describe('metrics: after queries', () => {
  it('counts a miss as upstream and the repeat as a fresh hit, with the cache and the upstream seen', async () => {
    const { ask, scrape } = setup();
    await ask('www.example.org');
    const hit = ask('www.example.org');
    assert.ok(!(hit instanceof Promise), 'the hit is synchronous');
    const shown = scrape();
    assert.equal(shown.get('holdfast_queries_total{transport="udp"}'), 2);
    assert.equal(shown.get('holdfast_answers_total{outcome="upstream"}'), 1);
    assert.equal(shown.get('holdfast_answers_total{outcome="fresh_hit"}'), 1);
    assert.equal(shown.get(`holdfast_upstream_queries_total{upstream="${LABEL}"}`), 1);
    assert.equal(shown.get(`holdfast_upstream_replies_total{upstream="${LABEL}"}`), 1);
    assert.equal(shown.get('holdfast_cache_entries'), 1);
    assert.equal(shown.get('holdfast_cache_inserts_total'), 1);
    assert.equal(shown.get('holdfast_answer_duration_seconds_count{source="cache-fresh"}'), 1);
    assert.equal(shown.get('holdfast_answer_duration_seconds_bucket{source="cache-fresh",le="0.0001"}'), 1);
    assert.equal(shown.get('holdfast_answer_duration_seconds_count{source="upstream"}'), 1);
  });

  it('shows a breaker as 2 once it opens and 1 when it half-opens', () => {
    const { pipeline, scrape, time } = setup();
    const h = pipeline.upstreams.health[0];
    for (let i = 0; i < DEFAULT_CONFIG.upstream.breakerFailures; i++) h.breaker.failure(time.now());
    assert.equal(scrape().get(`holdfast_upstream_breaker_state{upstream="${LABEL}"}`), 2);
    time.advance(DEFAULT_CONFIG.upstream.breakerCooldownMs);
    assert.equal(scrape().get(`holdfast_upstream_breaker_state{upstream="${LABEL}"}`), 1);
  });

  it('shows the smoothed RTT and RTO in seconds once a reply is measured', () => {
    const { pipeline, scrape } = setup();
    pipeline.upstreams.health[0].rto.sample(40);
    const shown = scrape();
    assert.equal(shown.get(`holdfast_upstream_srtt_seconds{upstream="${LABEL}"}`), 0.04);
    assert.equal(shown.get(`holdfast_upstream_rto_seconds{upstream="${LABEL}"}`), pipeline.upstreams.health[0].rto.rtoMs / 1000);
  });

  it('never shows prefetch bytes going down, though the estimate behind them is corrected', () => {
    const { view, time } = setup();
    let spent = 500;
    const fake: MetricsView = {
      ...view,
      prefetcher: { watched: 0, budget: { get spentBytes() { return spent; } } },
    };
    const c = createMetricsCollector(fake);
    const bytes = () => samples(formatExposition(c(time.now()))).get('holdfast_prefetch_bytes_total');
    assert.equal(bytes(), 500);
    spent = 480;
    assert.equal(bytes(), 500);
    spent = 620;
    assert.equal(bytes(), 620);
  });
});

describe('metrics: the cache snapshot', () => {
  it('shows the age of the file on disk, and 0 without one', () => {
    const s = setup();
    assert.equal(s.scrape().get('holdfast_snapshot_age_seconds'), 0);
    const snapshot = { fileTimeMs: s.time.now() - 90_000 as number | null };
    const collect = createMetricsCollector({ ...s.view, snapshot });
    const age = () => samples(formatExposition(collect(s.time.now()))).get('holdfast_snapshot_age_seconds');
    assert.equal(age(), 90);
    s.time.advance(30_000);
    assert.equal(age(), 120);
    snapshot.fileTimeMs = null;
    assert.equal(age(), 0);
  });
});
