// What Holdfast weighs on disk (#11): the npm bundle, and the executable against a Bun
// hello-world built with the same flags for the same target, which is the runtime's own share.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';

export async function measureSizes({ bunBinary, nodeBundle }) {
  const { BUN_FLAGS } = await import('../build.mjs');
  mkdirSync('.cache/bench', { recursive: true });
  const src = '.cache/bench/hello.ts';
  const out = '.cache/bench/bun-hello';
  writeFileSync(src, "console.log('hello');\n");
  const r = spawnSync('node_modules/.bin/bun', ['build', '--compile', ...BUN_FLAGS, `--outfile=${out}`, src], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`bench: bun build --compile of a hello-world failed: ${(r.stderr || r.stdout || '').trim().slice(-400)}`);
  rmSync(`${out}.map`, { force: true });
  const size = (f) => statSync(f).size;
  return {
    bundleBytes: size(nodeBundle),
    bundleMapBytes: size(`${nodeBundle}.map`),
    executableBytes: size(bunBinary),
    helloBytes: size(out),
  };
}
