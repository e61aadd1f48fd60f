// Run by build/bench/block.mjs under Bun (the runtime of the shipped executable): the cost of
// one lookup in the block stage (hit and miss) against a plain Set<string> walked the same way,
// and the memory a Set of the same names takes. Prints one JSON object.
//   bun build/bench/block-child.ts LIST_FILE stage|set-memory

import { readFileSync } from 'node:fs';
import { loadBlockList } from '../../src/pipeline/block/load.ts';
import { createBlockStage } from '../../src/pipeline/block/stage.ts';
import { parseQuery, type Query } from '../../src/core/wire/query.ts';
import { textToName } from '../../src/core/wire/names.ts';
import type { Answer, Next } from '../../src/core/answer.ts';

declare const Bun: { gc(full: boolean): void };
const [file, mode] = process.argv.slice(2);
const names = readFileSync(file, 'utf8').split('\n').filter(Boolean);
const rss = () => process.memoryUsage().rss;

function query(name: string): Query {
  const n = textToName(name);
  const b = new Uint8Array(12 + n.length + 4);
  b[5] = 1;
  b.set(n, 12);
  b[12 + n.length + 1] = 1;
  b[12 + n.length + 3] = 1;
  const r = parseQuery(b);
  if (!r.ok) throw new Error(name);
  return r.query;
}

/** ns per call of `fn` over `items`, the best of 5 runs of `rounds` passes. */
function time<T>(items: T[], rounds: number, fn: (x: T) => unknown): number {
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    const t = performance.now();
    for (let r = 0; r < rounds; r++) for (let i = 0; i < items.length; i++) fn(items[i]);
    best = Math.min(best, ((performance.now() - t) * 1e6) / (rounds * items.length));
  }
  return best;
}

const SAMPLE = 10_000;
// Hits are names under listed ones (www.<listed>: two probes); misses are names of the same
// shape under other domains (every suffix probed).
const hits = Array.from({ length: SAMPLE }, (_, i) => `www.${names[(i * 97) % names.length]}`);
const misses = Array.from({ length: SAMPLE }, (_, i) => `www.${names[(i * 97) % names.length].replace(/^[^.]*/, 'x')}.miss-example.org`);

if (mode === 'set-memory') {
  Bun.gc(true);
  const before = rss();
  const set = new Set<string>();
  for (const n of names) set.add(n.toLowerCase());
  Bun.gc(true);
  console.log(JSON.stringify({ setRssBytes: rss() - before, size: set.size }));
} else {
  const bytes = new Uint8Array(readFileSync(file));
  const t = performance.now();
  const { list } = loadBlockList(file, bytes);
  const loadMs = performance.now() - t;
  const stage = createBlockStage({ action: 'null', allowNames: [] });
  stage.setLists([list]);
  const passed: Answer = { source: 'upstream', reason: '', rcode: 0, message: null, ageSeconds: 0 };
  const next: Next = () => passed;
  const client = { address: '127.0.0.1', port: 1, transport: 'udp' as const };
  const hitQ = hits.map((n) => ({ query: query(n), client }));
  const missQ = misses.map((n) => ({ query: query(n), client }));
  for (const r of hitQ) if ((stage.stage(r, next) as Answer).source !== 'blocked') throw new Error('a hit passed');
  for (const r of missQ) if ((stage.stage(r, next) as Answer).source === 'blocked') throw new Error('a miss blocked');
  const set = new Set(names.map((n) => n.toLowerCase()));
  // The naive stage: the name as text, then each suffix sliced off and looked up.
  const naive = (name: string) => {
    const lower = name.toLowerCase();
    for (let at = 0; at >= 0; at = lower.indexOf('.', at) + 1 || -1) if (set.has(at === 0 ? lower : lower.slice(at))) return true;
    return false;
  };
  const hitText = hits.slice();
  const missText = misses.slice();
  console.log(
    JSON.stringify({
      names: list.set.size,
      setBytes: list.set.bytes,
      loadMs,
      hitNs: time(hitQ, 20, (r) => stage.stage(r, next)),
      missNs: time(missQ, 20, (r) => stage.stage(r, next)),
      // Given the name as text already: building it from the wire would cost more on top.
      setHitNs: time(hitText, 20, naive),
      setMissNs: time(missText, 20, naive),
    }),
  );
}
