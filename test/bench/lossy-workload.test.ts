// The arithmetic of `npm run bench:lossy`: the zone, the Zipf schedule and the figures. The
// bench itself needs root and minutes; these are the parts a wrong line would quietly skew.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildZone, percentile, schedule, summarise } from '../../build/bench/lossy-workload.mjs';

const zone = buildZone({ zone: 'lossy.test', count: 400, ttlMinSeconds: 5, ttlMaxSeconds: 30, seed: 7 });

describe('bench:lossy workload', () => {
  it('gives every name its own address and a TTL within the range, and writes them to the zone', () => {
    assert.equal(new Set(zone.entries.map((e) => e.address)).size, 400);
    assert.ok(zone.entries.every((e) => e.ttlSeconds >= 5 && e.ttlSeconds <= 30));
    assert.ok(new Set(zone.entries.map((e) => e.ttlSeconds)).size > 20, 'TTLs barely vary');
    assert.match(zone.text, new RegExp(`^n17 ${zone.entries[17].ttlSeconds} IN A ${zone.entries[17].address.replace(/\./g, '\\.')}$`, 'm'));
  });

  it('rejects more names than it has addresses for', () => {
    assert.throws(() => buildZone({ zone: 'x.test', count: 10_000, ttlMinSeconds: 5, ttlMaxSeconds: 30, seed: 1 }), /at most 750 names/);
  });

  it('spaces queries evenly, the same for the same seed, with a few names asked most', () => {
    const a = schedule({ entries: zone.entries, qps: 100, seconds: 40, exponent: 1, seed: 3 });
    assert.deepEqual(a, schedule({ entries: zone.entries, qps: 100, seconds: 40, exponent: 1, seed: 3 }));
    assert.notDeepEqual(a, schedule({ entries: zone.entries, qps: 100, seconds: 40, exponent: 1, seed: 4 }));
    assert.equal(a.length, 4000);
    assert.deepEqual(a.slice(0, 3).map((q) => q[0]), [0, 10, 20]);
    const byName = new Map<string, number>();
    for (const [, name, address] of a) {
      byName.set(name, (byName.get(name) ?? 0) + 1);
      assert.equal(address, zone.entries.find((e) => e.name === name)!.address);
    }
    const counts = [...byName.values()].sort((x, y) => y - x);
    // 1/rank over 400 names: the top name near 1/H(400) ≈ 15%, most names asked a handful of times.
    assert.ok(counts[0] > 450 && counts[0] < 750, `top name asked ${counts[0]} times`);
    assert.ok(byName.size > 250, `only ${byName.size} distinct names`);
  });

  it('counts a query with no right answer as slower than any answer', () => {
    const ok = (latencyMs: number) => ({ ok: true, latencyMs, rcode: 0 });
    const results = [...Array.from({ length: 98 }, (_, i) => ok(i + 1)), { ok: false, latencyMs: 3, rcode: 2 }, { ok: false, latencyMs: null, rcode: null }];
    assert.equal(percentile(results, 50), 50);
    assert.equal(percentile(results, 98), 98);
    assert.equal(percentile(results, 99), Infinity);
    assert.deepEqual(
      { ...summarise(results), p50Ms: 0, p90Ms: 0, p99Ms: 0 },
      {
        queries: 100, right: 98, rightShare: 0.98, servfail: 1, other: 0, noReply: 1, p50Ms: 0, p90Ms: 0, p99Ms: 0,
        upstreamPackets: null, upstreamQuestions: null, packetsPerQuery: null, packetsPerQuestion: null,
      },
    );
  });

  it('gives the upstream packets per client query and per question that reached the upstream', () => {
    const results = Array.from({ length: 200 }, () => ({ ok: true, latencyMs: 1, rcode: 0 }));
    const s = summarise(results, { packets: 50, questions: 20 });
    assert.equal(s.packetsPerQuery, 0.25);
    assert.equal(s.packetsPerQuestion, 2.5);
    assert.equal(summarise(results, { packets: 5, questions: 0 }).packetsPerQuestion, null, 'no question reached it: no ratio');
  });
});
