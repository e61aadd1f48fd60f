// `npm run torture -- --kills N`: SIGKILL the shipped executable N times at random points of a
// cache snapshot write, and after every kill check the file: `holdfast snapshot inspect` reads it
// whole and it is either the previous good file (same bytes) or the new one (the previous
// entries plus the names asked since), and the next start restores exactly what inspect
// counted. Never a half file, never a lost good snapshot; leftover temporary files stay few
// (each write clears those an earlier cut-short write left).
//   bun build/campaigns/torture.ts [--kills 1000] [--fill 3000] [--max-minutes 30] [--damage]

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { createPrng } from '../../test/helpers/prng.ts';
import { executable, machine, numberArg, readArgs, report, sleep, startServer, type Check, type Server } from './common.ts';
import { startUpstream } from './mutating-upstream.ts';

const args = readArgs(process.argv.slice(2));
const KILLS = numberArg(args, 'kills', 1000);
const FILL = numberArg(args, 'fill', 3000);
const MAX_MS = numberArg(args, 'max-minutes', 30) * 60_000;
const SEED = numberArg(args, 'seed', 0x70e7);
// New names asked between writes: each write then differs from the one before.
const NEW_PER_ROUND = 5;
// --damage cuts the file in half after the first kill: the report must then fail, which is how
// the tests show the check can.
const DAMAGE = args.has('damage');

/** Asks `names` over UDP (a few at a time) until each is answered; returns how many were. */
async function ask(port: number, names: readonly string[]): Promise<number> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const pending = new Map<number, () => void>();
  sock.on('message', (m) => pending.get(m.readUInt16BE(0))?.());
  let answered = 0;
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const i = next++;
      const id = i & 0xffff;
      const q = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: names[i] }] });
      for (let attempt = 0; attempt < 5; attempt++) {
        const ok = await new Promise<boolean>((r) => {
          const t = setTimeout(() => r(false), 500);
          pending.set(id, () => {
            clearTimeout(t);
            r(true);
          });
          sock.send(q, port, '127.0.0.1');
        });
        pending.delete(id);
        if (ok) {
          answered++;
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  sock.close();
  return answered;
}

/** `holdfast snapshot inspect FILE`: the entry count if it reads whole, else why not. */
export function inspect(file: string): { entries: number } | { problem: string } {
  const r = spawnSync(executable(), ['snapshot', 'inspect', file], { encoding: 'utf8', timeout: 20_000 });
  const m = /^entries\s+(\d+)/m.exec(r.stdout ?? '');
  if (r.status === 0 && m) return { entries: Number(m[1]) };
  return { problem: `exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout || '').trim().slice(0, 300)}` };
}

const sha = (file: string) => (existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : null);

async function waitFor(server: Server, pred: (l: Record<string, unknown>) => boolean, ms: number): Promise<Record<string, unknown> | null> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const hit = server.logs.find(pred);
    if (hit) return hit;
    if (!server.alive()) return null;
    await sleep(2);
  }
  return null;
}

async function main(): Promise<boolean> {
  const started = Date.now();
  const rnd = createPrng(SEED);
  const dir = mkdtempSync(join(os.tmpdir(), 'holdfast-torture-'));
  const file = join(dir, 'cache.snapshot');
  const upstream = await startUpstream({ seed: SEED, mutateShare: 0, ttlSeconds: 7 * 86_400 });
  const serverArgs = ['--upstream', `udp://127.0.0.1:${upstream.port}`, '--cache-file', file, '--snapshot-interval', '1', '--snapshot-min-changes', '1', '--rate-limit', '0'];
  const problems: string[] = [];
  const tally = { kills: 0, previousFile: 0, newFile: 0, noWriteYet: 0, maxTempFiles: 0, restoreMismatches: 0, halfFiles: 0, lostGood: 0, stray: 0 };
  let maxDelayMs = 20;
  const delays: number[] = [];

  // A first whole file: fill the cache, ask for a write, stop cleanly.
  let server = await startServer(serverArgs);
  const filled = await ask(server.port, Array.from({ length: FILL }, (_, i) => `fill-${i}.torture.test`));
  process.kill(server.pid, 'SIGUSR1');
  await waitFor(server, (l) => typeof l.entries === 'number' && String(l.msg ?? l.message ?? '').includes('written'), 10_000);
  await server.stop();
  let good = inspect(file);
  if (!('entries' in good)) throw new Error(`the first snapshot does not read: ${good.problem}`);
  let goodEntries = good.entries;
  let goodHash = sha(file);
  let round = 0;

  while (tally.kills < KILLS && Date.now() - started < MAX_MS) {
    server = await startServer(serverArgs);
    // The restart restores exactly what inspect counted in the file left by the last kill.
    const restored = await waitFor(server, (l) => typeof l.restored === 'number', 5000);
    if (!restored || restored.restored !== goodEntries) {
      tally.restoreMismatches++;
      if (problems.length < 10) problems.push(`kill ${tally.kills}: restart restored ${restored?.restored ?? 'nothing'}, file holds ${goodEntries}`);
    }
    const fresh = Array.from({ length: NEW_PER_ROUND }, (_, i) => `r${round}-${i}.torture.test`);
    round++;
    const asked = await ask(server.port, fresh);
    // The kill lands anywhere from before the write starts to after it ends.
    const delay = rnd.next() * maxDelayMs;
    delays.push(delay);
    process.kill(server.pid, 'SIGUSR1');
    if (delay >= 1) await sleep(delay);
    await server.kill();
    tally.kills++;
    if (server.stray.length > 0) tally.stray++;

    if (DAMAGE && tally.kills === 1) truncateSync(file, Math.floor(statSync(file).size / 2));
    const hash = sha(file);
    const now = inspect(file);
    const temps = readdirSync(dir).filter((n) => n.endsWith('.tmp')).length;
    tally.maxTempFiles = Math.max(tally.maxTempFiles, temps);
    if (!('entries' in now)) {
      tally.halfFiles++;
      if (hash === null) tally.lostGood++;
      if (problems.length < 10) problems.push(`kill ${tally.kills} after ${delay.toFixed(1)} ms: ${now.problem}`);
      break;
    }
    if (hash === goodHash) {
      tally.previousFile++;
    } else if (now.entries === goodEntries + asked) {
      tally.newFile++;
    } else {
      tally.lostGood++;
      if (problems.length < 10) problems.push(`kill ${tally.kills}: file holds ${now.entries} entries, expected ${goodEntries} (previous) or ${goodEntries + asked} (new)`);
    }
    goodEntries = now.entries;
    goodHash = hash;
    // Keep the kills spread over the write: widen the window while they all land before it
    // ends, narrow it while they all land after.
    if (tally.kills % 20 === 0) {
      const recent = tally.previousFile / Math.max(1, tally.kills);
      if (recent > 0.8) maxDelayMs *= 1.5;
      else if (recent < 0.2) maxDelayMs /= 1.5;
    }
    if (tally.kills % 50 === 0) process.stderr.write(`torture: ${tally.kills} kills, ${tally.previousFile} previous, ${tally.newFile} new, window ${maxDelayMs.toFixed(1)} ms\n`);
  }
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
  const seconds = (Date.now() - started) / 1000;
  const checks: Check[] = [
    { name: 'every kill leaves a whole file', pass: tally.halfFiles === 0, detail: tally.halfFiles === 0 ? `${tally.kills} kills, inspect read every file whole` : problems.join(' | ') },
    { name: 'never a lost good snapshot', pass: tally.lostGood === 0, detail: tally.lostGood === 0 ? 'each file was the previous one (same bytes) or the new one (previous + new names)' : problems.join(' | ') },
    { name: 'restarts restore the file', pass: tally.restoreMismatches === 0, detail: tally.restoreMismatches === 0 ? 'each restart restored the entries inspect counted' : problems.join(' | ') },
    { name: 'temporary files cleared', pass: tally.maxTempFiles <= 2, detail: `at most ${tally.maxTempFiles} left beside the file after a kill` },
    { name: 'no stack trace', pass: tally.stray === 0, detail: `${tally.stray} runs printed something other than JSON log lines` },
    { name: 'kills ran', pass: tally.kills >= Math.min(KILLS, 1) && tally.kills === KILLS, detail: `${tally.kills} of ${KILLS} in ${seconds.toFixed(0)} s` },
  ];
  return report(
    `torture: ${tally.kills} kills in ${seconds.toFixed(0)} s (seed ${SEED}; ${machine()})`,
    {
      'names filled first': filled,
      'entries in the last file': goodEntries,
      'kills leaving the previous file': tally.previousFile,
      'kills leaving the new file': tally.newFile,
      'kill delay after SIGUSR1, ms': `0 .. ${Math.max(...delays, 0).toFixed(1)} (median ${[...delays].sort((a, b) => a - b)[delays.length >> 1]?.toFixed(1) ?? '-'})`,
      'most temporary files left': tally.maxTempFiles,
    },
    checks,
  );
}

if (import.meta.main) {
  main().then(
    (pass) => process.exit(pass ? 0 : 1),
    (e) => {
      process.stderr.write(`torture: ${(e as Error).stack ?? e}\n`);
      process.exit(2);
    },
  );
}
