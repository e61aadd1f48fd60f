// What Holdfast weighs on disk (#11): the npm bundle, and the executable against a Bun
// hello-world built with the same flags for the same target, which is the runtime's own share.
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { compileWithShippedFlags } from './setup.mjs';

export async function measureSizes({ bunBinary, nodeBundle }) {
  mkdirSync('.cache/bench', { recursive: true });
  const src = '.cache/bench/hello.ts';
  writeFileSync(src, "console.log('hello');\n");
  const hello = await compileWithShippedFlags(src, '.cache/bench/bun-hello');
  const size = (f) => statSync(f).size;
  return {
    bundleBytes: size(nodeBundle),
    bundleMapBytes: size(`${nodeBundle}.map`),
    executableBytes: size(bunBinary),
    helloBytes: size(hello),
  };
}
