// What a cache entry really costs, per runtime: the measurement behind ENTRY_OVERHEAD_BYTES in
// src/pipeline/cache/store.ts. Runs entry-bytes-child.ts under Bun and (bundled by esbuild)
// under `node --expose-gc`, for three reply shapes, and prints heap growth per entry after a
// full collection, the part entryBytes() counts as variable, and the rest: the overhead.
//   node build/bench/entry-bytes.mjs [--count N] [--variant as-is|ttls-exact|ttls-int32|wire-copy]
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

process.chdir(fileURLToPath(new URL('../..', import.meta.url)));
const { values } = parseArgs({ options: { count: { type: 'string', default: '100000' }, variant: { type: 'string', default: 'as-is' } } });
const CHILD = 'build/bench/entry-bytes-child.ts';
const NODE_CHILD = '.cache/bench/entry-bytes-child.mjs';
mkdirSync('.cache/bench', { recursive: true });
await build({ entryPoints: [CHILD], outfile: NODE_CHILD, bundle: true, platform: 'node', format: 'esm', logLevel: 'warning' });

const runtimes = {
  bun: (args) => ['node_modules/.bin/bun', [CHILD, ...args]],
  node: (args) => [process.execPath, ['--expose-gc', NODE_CHILD, ...args]],
};
const rows = [];
for (const shape of ['a', 'cname', 'nxdomain']) {
  for (const [name, argv] of Object.entries(runtimes)) {
    const [cmd, args] = argv([shape, values.count, values.variant]);
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) throw new Error(`${name} ${shape}: ${r.stderr || r.error}`);
    rows.push(JSON.parse(r.stdout.trim().split('\n').pop()));
  }
}
const pad = (v, n) => String(v).padStart(n);
process.stdout.write(`${values.count} entries, variant ${values.variant}; bytes per entry\n`);
process.stdout.write(`${'runtime'.padEnd(8)}${'shape'.padEnd(10)}${pad('heap growth', 12)}${pad('variable', 10)}${pad('overhead', 10)}${pad('counted', 10)}${pad('RSS growth', 12)}\n`);
for (const r of rows) {
  const counted = r.counted / r.count;
  process.stdout.write(
    `${r.runtime.padEnd(8)}${r.shape.padEnd(10)}${pad(Math.round(r.heapGrowthPerEntry), 12)}${pad(Math.round(r.variablePerEntry), 10)}` +
      `${pad(Math.round(r.overheadPerEntry), 10)}${pad(Math.round(counted), 10)}${pad(Math.round(r.rssGrowthPerEntry), 12)}\n`,
  );
}
process.stdout.write(`ENTRY_OVERHEAD_BYTES is ${rows[0].overheadNow}; "counted" is entryBytes() per entry, to compare with heap growth\n`);
