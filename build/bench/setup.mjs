// What the bench needs before it measures: the tools, the two Holdfast artefacts (rebuilt when
// older than src/), and a description of the machine and versions to print beside the figures.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';

/** Throws naming the Debian package for the first tool missing. */
export function checkTools({ dnsmasq, encrypted }) {
  const needed = [
    ['dnsperf', ['-h'], 'dnsperf'],
    ['nsd', ['-v'], 'nsd'],
    ['taskset', ['-V'], 'util-linux'],
    ...(dnsmasq ? [['dnsmasq', ['--version'], 'dnsmasq-base']] : []),
    ...(encrypted
      ? [
          ['unbound', ['-V'], 'unbound'],
          ['dnsdist', ['--version'], 'dnsdist'],
          ['openssl', ['version'], 'openssl'],
        ]
      : []),
  ];
  for (const [cmd, args, pkg] of needed) {
    if (spawnSync(cmd, args).error) throw new Error(`bench: ${cmd} not found (apt-get install ${pkg})`);
  }
}

/**
 * dist/holdfast.mjs and dist/holdfast-linux-<arch>, through build/build.mjs (the flags shipped
 * builds use matter: --minify, --bytecode), or straight from bun if that script is missing or fails.
 */
export function buildServers(log) {
  const target = `linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`;
  const bunBinary = `dist/holdfast-${target}`;
  const nodeBundle = 'dist/holdfast.mjs';
  if (existsSync('build/build.mjs')) {
    const args = ['build/build.mjs', '--if-stale', 'bundle', target];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 600_000 });
    if (r.status === 0 && existsSync(bunBinary) && existsSync(nodeBundle)) return { bunBinary, nodeBundle, how: `node ${args.join(' ')}` };
    log(`bench: build/build.mjs failed (${(r.stderr || r.stdout || '').trim().slice(-300)}); building with bun directly`);
  }
  const bundle = spawnSync(process.execPath, ['build/bundle.mjs'], { stdio: 'inherit' });
  const bun = spawnSync('node_modules/.bin/bun', ['build', '--compile', 'src/main/bun.ts', '--outfile', bunBinary], { stdio: 'inherit' });
  if (bundle.status !== 0 || bun.status !== 0) throw new Error('bench: could not build dist/holdfast.mjs and the Bun binary (run npm ci first)');
  return { bunBinary, nodeBundle, how: `node build/bundle.mjs; bun build --compile src/main/bun.ts --outfile ${bunBinary}` };
}

/**
 * `entry` compiled into `out` with the flags the shipped executables use (build/build.mjs), and
 * `extra` after them; Bun's copy of the source map beside it is deleted, as the build does.
 */
export async function compileWithShippedFlags(entry, out, extra = []) {
  const { BUN_FLAGS } = await import('../build.mjs');
  mkdirSync(dirname(out), { recursive: true });
  const r = spawnSync('node_modules/.bin/bun', ['build', '--compile', ...BUN_FLAGS, ...extra, `--outfile=${out}`, entry], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`bench: bun build --compile ${[...extra, entry].join(' ')} failed: ${(r.stderr || r.stdout || '').trim().slice(-400)}`);
  rmSync(`${out}.map`, { force: true });
  return out;
}

/**
 * build/bench/udp-floor.ts as a Bun executable built with the shipped flags, so the floor column
 * pays what Holdfast's executable pays for being one (.cache/bench/bun-floor).
 */
export const buildFloor = () => compileWithShippedFlags('build/bench/udp-floor.ts', '.cache/bench/bun-floor');

/** The version `cmd args` prints (stdout or stderr): the first capture of `re`. */
function versionOf(cmd, args, re = /(\S+)/) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return null;
  return re.exec(`${r.stdout}\n${r.stderr}`)?.[1] ?? null;
}

export function describeMachine(nproc, pinning) {
  const git = (args) => spawnSync('git', args, { encoding: 'utf8' }).stdout?.trim() ?? '';
  const dirty = git(['status', '--porcelain', 'src']) ? ', src/ modified' : '';
  return {
    nproc,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    kernel: `${os.type()} ${os.release()}`,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    pinning,
    versions: {
      holdfast: `${JSON.parse(readFileSync('package.json', 'utf8')).version} (${git(['rev-parse', '--short', 'HEAD'])}${dirty})`,
      dnsmasq: versionOf('dnsmasq', ['--version'], /version (\S+)/i),
      nsd: versionOf('nsd', ['-v'], /version (\S+)/i),
      unbound: versionOf('unbound', ['-V'], /^Version (\S+)/m),
      dnsdist: versionOf('dnsdist', ['--version'], /^dnsdist (\S+)/m),
      dnsperf: versionOf('dnsperf', ['-h'], /^Version (\S+)/m),
      bun: versionOf('node_modules/.bin/bun', ['--version']),
      node: process.version,
    },
  };
}
