// The block stage of `npm run bench` (#14): a million generated domains as a list, loaded by the
// shipped Bun executable. Measures its RSS above the same server with no list, the load time it
// logs, and (in a Bun child, build/bench/block-child.ts) ns per lookup for a hit and a miss,
// each against a plain Set<string> of the same names as the naive baseline.

import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const WORDS = ['ads', 'track', 'pixel', 'metrics', 'cdn', 'stat', 'beacon', 'tag', 'log', 'img', 'api', 'sync', 'click', 'serve', 'media', 'data'];
const TLDS = ['com', 'net', 'org', 'io', 'de', 'co.uk', 'info', 'xyz'];

/** `count` distinct names of the shapes real lists hold (about 25 characters on average, as StevenBlack's hosts). */
export function generateNames(count, seed = 1) {
  let x = seed;
  const rnd = (n) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  const out = [];
  for (let i = 0; i < count; i++) {
    const sub = rnd(4) === 0 ? '' : `${WORDS[rnd(WORDS.length)]}${rnd(1000)}.`;
    out.push(`${sub}${WORDS[rnd(WORDS.length)]}-${WORDS[rnd(WORDS.length)]}-${i.toString(36)}.${TLDS[rnd(TLDS.length)]}`);
  }
  return out;
}

const rssOf = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts the executable, waits for its listener line, returns it with its RSS after `settleMs`. */
async function serverRss(exe, args, settleMs) {
  const child = spawn(exe, ['serve', '--log-format', 'json', '--listen', '127.0.0.1:0', '--upstream', 'udp://127.0.0.1:9', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = [];
  let partial = '';
  child.stderr.on('data', (d) => {
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop();
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p));
      } catch {}
    }
  });
  const deadline = Date.now() + 60_000;
  while (!lines.some((l) => l.transport === 'udp') && Date.now() < deadline && child.exitCode === null) await sleep(20);
  if (!lines.some((l) => l.transport === 'udp')) throw new Error(`block bench: the server did not start`);
  await sleep(settleMs);
  const rss = rssOf(child.pid);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return { rss, lines };
}

const SETTLE_MS = 15_000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runBlockStage({ dir, exe, bun, count = 1_000_000, rounds = 3, log }) {
  const names = generateNames(count);
  const file = join(dir, 'block-list.txt');
  writeFileSync(file, names.join('\n') + '\n');
  const avg = names.reduce((n, s) => n + s.length, 0) / names.length;
  log(`block: ${count} names, ${(avg).toFixed(1)} characters on average, ${file}`);
  const empty = [];
  const loaded = [];
  const loadMs = [];
  for (let r = 0; r < rounds; r++) {
    // Read after the server has been idle a while, as the memory stage does: Bun returns
    // the garbage of the load (the file's bytes, the builder's buffer) some seconds later.
    empty.push((await serverRss(exe, [], SETTLE_MS)).rss);
    const withList = await serverRss(exe, ['--block-list', file], SETTLE_MS);
    loaded.push(withList.rss);
    const line = withList.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith(`block list ${file}`));
    loadMs.push(Number(/in (\d+) ms/.exec(line?.msg ?? '')?.[1] ?? NaN));
  }
  const child = (mode) => {
    const r = spawnSync(bun, ['build/bench/block-child.ts', file, mode], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`block bench child: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };
  const lookups = child('stage');
  const set = child('set-memory');
  const result = {
    names: count,
    averageNameLength: avg,
    emptyServerRssBytes: median(empty),
    rssAboveEmptyBytes: median(loaded) - median(empty),
    serverLoadMs: median(loadMs),
    structureBytes: lookups.setBytes,
    hitNs: lookups.hitNs,
    missNs: lookups.missNs,
    naiveSetRssBytes: set.setRssBytes,
    naiveSetHitNs: lookups.setHitNs,
    naiveSetMissNs: lookups.setMissNs,
  };
  const mib = (b) => `${(b / 1024 ** 2).toFixed(1)} MiB`;
  log(
    [
      `block: ${count} names (median of ${rounds} starts of ${exe})`,
      `  RSS above the empty server   ${mib(result.rssAboveEmptyBytes)} (empty: ${mib(result.emptyServerRssBytes)}); the structure itself ${mib(result.structureBytes)}`,
      `  load time (server's log)     ${result.serverLoadMs} ms`,
      `  lookup in the block stage    hit ${result.hitNs.toFixed(0)} ns, miss ${result.missNs.toFixed(0)} ns`,
      `  naive Set<string> baseline   ${mib(result.naiveSetRssBytes)} RSS; hit ${result.naiveSetHitNs.toFixed(0)} ns, miss ${result.naiveSetMissNs.toFixed(0)} ns`,
    ].join('\n'),
  );
  return result;
}
