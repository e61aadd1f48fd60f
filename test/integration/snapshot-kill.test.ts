// Power-cut safety of the cache file, as near as a test gets to it: a real Holdfast writing its
// snapshot every second while queries keep arriving is killed with SIGKILL at varied moments,
// again and again. After every kill the file must be absent (no write yet) or load whole; the
// next start must restore it without setting anything aside.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { folderOf, isTempNameOf } from '../../src/adapters/shared/paths.ts';
import { decodeSnapshot } from '../../src/services/snapshot/format.ts';
import { runHoldfast, startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';
import { until } from '../helpers/until.ts';
import { query } from '../helpers/packets.ts';
import { createPrng } from '../helpers/prng.ts';

const ITERATIONS = 10;
/** Stop early past this, once MIN_ITERATIONS are done: the suite runs on two shared cores. */
const BUDGET_MS = 16_000;
const MIN_ITERATIONS = 5;
const SEED = 0x5eed;

/** Identity, size and time of a file, or "none". */
/** The temporary files an atomic write of `path` has open or left (their names are random). */
function tempsOf(path: string): string[] {
  const folder = folderOf(path);
  return readdirSync(folder)
    .filter((n) => isTempNameOf(path, n))
    .map((n) => join(folder, n));
}

function fileState(path: string): string {
  const st = statSync(path, { throwIfNoEntry: false });
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'none';
}

/** Sends unique names at `port` in bursts until `stop()` is called; replies are read and dropped. */
function keepQuerying(port: number, prefix: string): { stop(): Promise<void>; sent(): number } {
  const s = dgram.createSocket('udp4');
  s.on('message', () => {});
  s.on('error', () => {});
  let n = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      for (let i = 0; i < 40; i++) s.send(query(`${prefix}-${n++}.w.kill.test`), port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 30));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      s.close();
    },
    sent: () => n,
  };
}

describe('cache file under SIGKILL', () => {
  let nsd: Nsd;
  let dir: string;
  let current: HoldfastProcess | null = null;
  before(async () => {
    nsd = await startNsd([{ name: 'kill.test', records: '*.w IN A 192.0.2.50' }]);
    dir = mkdtempSync(join(tmpdir(), 'holdfast-kill-'));
  });
  after(async () => {
    await current?.stop('SIGKILL');
    await nsd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('always leaves a file that loads whole, or none before the first write', async () => {
    const file = join(dir, 'cache.snap');
    const rnd = createPrng(SEED);
    const started = Date.now();
    let everWritten = false;
    let killedMidWrite = 0;
    let iterations = 0;
    for (let i = 0; i < ITERATIONS && (i < MIN_ITERATIONS || Date.now() - started < BUDGET_MS); i++) {
      const at = `iteration ${i} (seed ${SEED})`;
      const hadFile = existsSync(file);
      current = await startHoldfast([
        '--upstream', `udp://127.0.0.1:${nsd.port}`,
        '--cache-file', file,
        '--snapshot-interval', '1',
        '--snapshot-min-changes', '1',
      ]);
      const hf = current;
      // The file loads while the listeners open (#11): its outcome is logged a little later.
      if (hadFile) await until(() => hf.logs.some((l) => /cache restored|set aside/.test(String(l.msg))));
      assert.deepEqual(hf.logs.filter((l) => l.level === 'warn'), [], `${at}: ${hf.stderr()}`);
      if (hadFile) assert.equal(hf.logs.filter((l) => /cache restored/.test(String(l.msg))).length, 1, `${at}: ${hf.stderr()}`);
      const load = keepQuerying(hf.port, `i${i}`);
      if (i % 2 === 0) {
        // Anywhere from at once to past the second periodic write.
        await new Promise((r) => setTimeout(r, rnd.range(0, 2_300)));
      } else {
        // The first sign of a write: the temporary file appears (between its open and its
        // rename, a window of a few ms that a random moment seldom hits), or the file itself
        // changes (which is how a writer that is not atomic would be caught mid-way).
        const before = fileState(file);
        const until = Date.now() + 2_500;
        while (tempsOf(file).length === 0 && fileState(file) === before && Date.now() < until) await new Promise((r) => setImmediate(r));
      }
      const end = await hf.stop('SIGKILL');
      await load.stop();
      current = null;
      assert.equal(end.signal, 'SIGKILL', `${at}: it exited on its own: ${hf.stderr()}`);
      const left = tempsOf(file);
      if (left.length > 0) {
        killedMidWrite++;
        // Harmless to the next process (its first write clears it; see the fs adapter
        // tests), but it would fool the next wait for a temporary file to appear.
        for (const t of left) rmSync(t);
      }
      if (existsSync(file)) {
        everWritten = true;
        const bytes = new Uint8Array(readFileSync(file));
        assert.doesNotThrow(() => decodeSnapshot(bytes), `${at}: the file left by the kill does not load`);
      } else {
        assert.equal(everWritten, false, `${at}: a file once written has gone`);
      }
      iterations++;
    }
    assert.ok(iterations >= MIN_ITERATIONS);
    assert.ok(everWritten, 'no snapshot was ever written: the test proved nothing');
    // The whole file, as the operator's tool sees it.
    const inspect = await runHoldfast(['snapshot', 'inspect', file]);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, /entries\s+[1-9]\d*/);
    if (process.env.HOLDFAST_TEST_VERBOSE) console.log(`snapshot-kill: ${iterations} kills, ${killedMidWrite} left a temporary file (killed mid-write)`);
  });
});
