// The Node bundle: dist/holdfast.mjs, one file that runs on Node 20+. Also run by `npm ci`
// (the "prepare" script) so that `npx holdfast` works on a fresh checkout.
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';
import process from 'node:process';

export const BUNDLE = 'dist/holdfast.mjs';

/**
 * When this build was made, for src/core/version.ts: SOURCE_DATE_EPOCH when set (a reproducible
 * build, whose date is its last commit's: still a time that has passed), else now.
 */
export function buildTime() {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  return new Date(Number.isFinite(epoch) && epoch > 0 ? epoch * 1000 : Date.now()).toISOString();
}

/** Writes the bundle to `outfile` (default dist/holdfast.mjs) and returns its path. */
export async function bundleNode(outfile = BUNDLE) {
  await build({
    entryPoints: ['src/main/node.ts'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    legalComments: 'none',
    // #11: minified, 383 KB against 650 KB (the goal is 400 KB). Names and lines of src/ stay
    // readable through the map written beside it (dist/holdfast.mjs.map, shipped in the npm
    // package): `node --enable-source-maps dist/holdfast.mjs` prints stack traces in src/ terms.
    minify: true,
    sourcemap: 'linked',
    logLevel: 'warning',
    // The time of the build: a clock that reads earlier is known to be wrong (src/core/version.ts).
    define: { __HOLDFAST_BUILD_TIME__: JSON.stringify(buildTime()) },
    // dns-packet is CommonJS and calls require(); an ESM bundle needs one to hand.
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __holdfastRequire } from 'node:module';\nconst require = __holdfastRequire(import.meta.url);" },
  });
  await chmod(outfile, 0o755);
  return outfile;
}

if (import.meta.url === `file://${process.argv[1]}`) await bundleNode();
