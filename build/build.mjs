// `npm run build`: every artefact Holdfast ships, written into dist/.
//   node build/build.mjs [--strict] [--if-stale] [TARGET | GROUP ...]      (no target: all)
//
//   bundle             dist/holdfast.mjs                 esbuild, Node 20+
//   linux-x64          dist/holdfast-linux-x64           bun build --compile (glibc)
//   linux-arm64        dist/holdfast-linux-arm64
//   linux-x64-musl     dist/holdfast-linux-x64-musl      (musl: OpenWrt, Alpine)
//   linux-arm64-musl   dist/holdfast-linux-arm64-musl
//   deno-linux-x64     dist/holdfast-deno-linux-x64      deno compile
//   deno-linux-arm64   dist/holdfast-deno-linux-arm64
//   groups: bun (the four Bun executables), deno (the two Deno ones)
//
// `deno compile` downloads a runtime for its target from Deno's own host. Where that host cannot
// be reached, the Deno targets are skipped with one message and the build still exits 0;
// `--strict` (the release workflow) turns a skipped target into a failure. `--if-stale` builds
// only the targets whose output is older than their inputs (build/test.mjs uses it).
import { spawn } from 'node:child_process';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildTime, bundleNode } from './bundle.mjs';

const BIN = 'node_modules/.bin';
const DIST = 'dist';
// Artefacts are written here, then renamed into dist/ whole: a test running
// dist/holdfast-linux-x64 never sees half a file (and overwriting a running executable in place
// fails with ETXTBSY). Per process, so two builds at once do not share files.
const WORK = `.cache/build-${process.pid}`;
// What a build reads besides node_modules; an output newer than all of them is fresh.
const INPUTS = ['src', 'build/build.mjs', 'build/bundle.mjs', 'package-lock.json', 'deno.json'];

// Cross-compiling fetches the target's Bun runtime through the npm registry the first time.
const BUN_TIMEOUT_MS = 300_000;
// Bounds `deno compile` (type check + runtime download), so an unreachable host that hangs
// instead of refusing cannot hang the build.
const DENO_TIMEOUT_MS = Number(process.env.HOLDFAST_DENO_TIMEOUT_MS) || 180_000;

// What these cost (#11, Bun 1.4.5, linux-x64; `bun build --compile` of a hello world with the
// same flags is 109,209,776 bytes whatever the flags): minified code alone +392 KiB; the
// embedded source map +584 KiB; the bytecode +3.6 MiB (it rides beside the source, which Bun
// keeps). So Holdfast is hello + 4.5 MiB with all three, hello + 0.95 MiB without --bytecode.
// The bytecode is kept: on the 2-core bench machine `holdfast version` takes 28 ms with it and
// 75 ms without, and `serve` answers its first query after 80 ms instead of 215 ms; on a
// router's slower core that gap grows, and it is time with no DNS. The 3.6 MiB is 3% of an
// executable that needs ~110 MB of storage either way (docs/openwrt.md): a 16-32 MB flash
// router cannot hold the Bun runtime itself, so the bytecode does not decide where it fits.
export const BUN_FLAGS = [
  '--minify',
  // Ahead-of-time JavaScriptCore bytecode (above). ESM because --bytecode defaults to CommonJS,
  // which has no top-level await (src/main/bun.ts uses one).
  '--bytecode',
  '--format=esm',
  // Embeds a source map (584 KiB) so stack traces in bug reports name src/ files and lines.
  // Bun also writes a copy beside the binary; that one is deleted.
  '--sourcemap=linked',
  // A DNS daemon must not behave differently because of a .env or bunfig.toml in whatever
  // directory it happens to be started from.
  '--no-compile-autoload-dotenv',
  '--no-compile-autoload-bunfig',
  // The time of the build: a clock that reads earlier is known to be wrong (src/core/version.ts).
  `--define=__HOLDFAST_BUILD_TIME__=${JSON.stringify(buildTime())}`,
];

/** A target that could not be built for a reason outside the project (no network). */
class Skipped extends Error {}

function bunTarget(name, bunName) {
  return {
    name,
    group: 'bun',
    file: `holdfast-${name}`,
    async build(out) {
      const r = await run(`${BIN}/bun`, ['build', '--compile', `--target=${bunName}`, ...BUN_FLAGS, `--outfile=${out}`, 'src/main/bun.ts'], BUN_TIMEOUT_MS);
      if (r.timedOut) throw new Error(`bun build --compile: ${bunName} did not finish within ${BUN_TIMEOUT_MS / 1000} s\n${r.output}`);
      if (r.code !== 0) throw new Error(`bun build --compile: ${bunName} failed (exit ${r.code})\n${r.output}`);
      await rm(`${out}.map`, { force: true });
    },
  };
}

function denoTarget(name, triple) {
  return {
    name,
    group: 'deno',
    triple,
    file: `holdfast-${name}`,
    async build(out) {
      const r = await run(`${BIN}/deno`, ['compile', '-A', '--unstable-net', '--target', triple, '--output', out, 'src/main/deno.ts'], DENO_TIMEOUT_MS);
      if (r.code === 0 && !r.timedOut) return;
      // The runtime's address comes from deno's own output, so the message names the host it
      // really tried.
      const url = /Download\s+(https?:\/\/\S+)/.exec(r.output)?.[1];
      const host = url ? new URL(url).host : "Deno's download host";
      // A timeout is a skip only if deno had got as far as the download; stuck before it (type
      // checking, say) is the project's problem and fails the build.
      if (r.timedOut && url) throw new Skipped(`no answer from ${host} within ${DENO_TIMEOUT_MS / 1000} s`);
      if (r.timedOut) throw new Error(`deno compile: ${triple} did not finish within ${DENO_TIMEOUT_MS / 1000} s\n${r.output}`);
      if (/error sending request for url/i.test(r.output)) throw new Skipped(`no network access to ${host}`);
      throw new Error(`deno compile: ${triple} failed (exit ${r.code})\n${r.output}`);
    },
  };
}

export const TARGETS = [
  {
    name: 'bundle',
    group: 'node',
    file: 'holdfast.mjs',
    async build(out) {
      await bundleNode(out);
      // The source map goes beside the bundle first: it names it by its file name alone.
      await rename(`${out}.map`, join(DIST, 'holdfast.mjs.map'));
    },
  },
  bunTarget('linux-x64', 'bun-linux-x64'),
  bunTarget('linux-arm64', 'bun-linux-arm64'),
  bunTarget('linux-x64-musl', 'bun-linux-x64-musl'),
  bunTarget('linux-arm64-musl', 'bun-linux-arm64-musl'),
  denoTarget('deno-linux-x64', 'x86_64-unknown-linux-gnu'),
  denoTarget('deno-linux-arm64', 'aarch64-unknown-linux-gnu'),
];

/** Runs a command to completion (or SIGKILL after `timeoutMs`), collecting its output. */
function run(cmd, args, timeoutMs) {
  return new Promise((resolve) => {
    let output = '';
    let timedOut = false;
    const child = spawn(cmd, args, { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => (output += `${e.message}\n`));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 1 : 0), output, timedOut });
    });
  });
}

async function newestMtimeMs(path) {
  const s = await stat(path).catch(() => null);
  if (!s) return 0;
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = s.mtimeMs;
  for (const e of await readdir(path)) newest = Math.max(newest, await newestMtimeMs(join(path, e)));
  return newest;
}

/** Target names and group names to targets, in TARGETS order; throws on an unknown name. */
export function selectTargets(names) {
  if (names.length === 0) return TARGETS;
  for (const n of names) {
    if (!TARGETS.some((t) => t.name === n || t.group === n)) {
      const valid = [...TARGETS.map((t) => t.name), 'bun', 'deno'].join(', ');
      throw new Error(`build: unknown target "${n}" (one of: ${valid})`);
    }
  }
  return TARGETS.filter((t) => names.includes(t.name) || names.includes(t.group));
}

/**
 * Builds `names` (targets or groups; none = all) into dist/. Resolves to one result per target:
 * { name, path, status: 'built' | 'fresh' | 'skipped' | 'failed', bytes?, reason? }. Never throws
 * for a target that fails; the caller decides what a failure or a skip means.
 */
export async function buildTargets(names = [], { ifStale = false, log = (line) => process.stdout.write(`${line}\n`) } = {}) {
  const targets = selectTargets(names);
  const inputsMtimeMs = ifStale ? Math.max(...(await Promise.all(INPUTS.map(newestMtimeMs)))) : Infinity;
  await mkdir(DIST, { recursive: true });
  await mkdir(WORK, { recursive: true });
  const results = [];
  // Every Deno target downloads from the same host: once it is unreachable, the rest are not tried.
  let denoSkip = null;
  try {
    for (const t of targets) {
      const path = join(DIST, t.file);
      const existing = await stat(path).catch(() => null);
      if (existing && existing.mtimeMs > inputsMtimeMs) {
        results.push({ name: t.name, path, status: 'fresh', bytes: existing.size });
        continue;
      }
      if (t.group === 'deno' && denoSkip) {
        results.push({ name: t.name, path, status: 'skipped', reason: denoSkip, triple: t.triple });
        continue;
      }
      const tmp = join(WORK, t.file);
      const startedMs = Date.now();
      try {
        await t.build(tmp);
        await rename(tmp, path);
        const { size } = await stat(path);
        results.push({ name: t.name, path, status: 'built', bytes: size });
        log(`built   ${t.name.padEnd(18)} ${path} (${((Date.now() - startedMs) / 1000).toFixed(1)} s)`);
      } catch (e) {
        if (e instanceof Skipped) {
          denoSkip = e.message;
          results.push({ name: t.name, path, status: 'skipped', reason: e.message, triple: t.triple });
        } else {
          results.push({ name: t.name, path, status: 'failed', reason: e.message });
          log(`FAILED  ${t.name.padEnd(18)} ${e.message}`);
        }
      }
    }
  } finally {
    await rm(WORK, { recursive: true, force: true });
  }
  const skipped = results.filter((r) => r.status === 'skipped');
  if (skipped.length) {
    log(`deno compile: could not download the Deno runtime for ${skipped.map((r) => r.triple).join(', ')} (${denoSkip}); skipped`);
  }
  return results;
}

function humanBytes(n) {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(1)} KiB`;
}

export function formatTable(results) {
  const rows = [['artefact', 'size', 'bytes', 'status']];
  for (const r of results) {
    const has = r.bytes !== undefined;
    rows.push([r.path, has ? humanBytes(r.bytes) : '-', has ? String(r.bytes) : '-', r.status === 'skipped' ? 'skipped (no Deno runtime)' : r.status]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows
    .map((row) => row.map((c, i) => (i === 1 || i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd())
    .join('\n');
}

async function main(argv) {
  const flags = argv.filter((a) => a.startsWith('--'));
  const names = argv.filter((a) => !a.startsWith('--'));
  const unknown = flags.filter((f) => f !== '--strict' && f !== '--if-stale');
  if (unknown.length) {
    process.stderr.write(`build: unknown option ${unknown[0]} (options: --strict, --if-stale)\n`);
    return 2;
  }
  let results;
  try {
    results = await buildTargets(names, { ifStale: flags.includes('--if-stale') });
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    return 2;
  }
  process.stdout.write(`\n${formatTable(results)}\n`);
  const failed = results.filter((r) => r.status === 'failed');
  const skipped = results.filter((r) => r.status === 'skipped');
  if (failed.length) {
    process.stderr.write(`build: ${failed.length} target(s) failed: ${failed.map((r) => r.name).join(', ')}\n`);
    return 1;
  }
  if (skipped.length) {
    const list = skipped.map((r) => r.name).join(', ');
    if (flags.includes('--strict')) {
      process.stderr.write(`build: --strict: ${skipped.length} target(s) skipped: ${list}\n`);
      return 1;
    }
    process.stdout.write(`skipped: ${list} (the build succeeds without them; --strict would fail)\n`);
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) process.exit(await main(process.argv.slice(2)));
