// `npm test`: the same test files under Bun, Deno and Node, one after another. Node 20 cannot
// read TypeScript, so its leg runs on an esbuild build of the test files. Fails if any leg fails.
//   node build/test.mjs [bun|deno|node ...] [-- FILTER]
import { spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { buildTargets } from './build.mjs';

const BIN = 'node_modules/.bin';
// Per process, so two runs at once (a developer and a helper) do not delete each other's build.
const NODE_OUT = `.cache/node-tests-${process.pid}`;

async function testFiles(dir = 'test') {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await testFiles(p)));
    else if (e.name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

function run(cmd, args, env = {}) {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const relay = (stream, sink) => stream.on('data', (d) => {
      output += d;
      sink.write(d);
    });
    relay(child.stdout, process.stdout);
    relay(child.stderr, process.stderr);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

// Each runner reports its totals in its own words; read them back for the summary line.
const counters = {
  bun: (o) => [/^\s*(\d+) pass$/m, /^\s*(\d+) fail$/m].map((r) => Number(r.exec(o)?.[1] ?? 0)),
  deno: (o) => {
    // Deno counts each describe() as a test and each it() as a step; steps are the tests.
    const m = /(\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/.exec(o);
    return m ? [Number(m[2] ?? m[1]), Number(m[4] ?? m[3])] : [0, 0];
  },
  node: (o) => [/^# pass (\d+)$/m, /^# fail (\d+)$/m].map((r) => Number(r.exec(o)?.[1] ?? 0)),
};

const legs = {
  async bun(files) {
    return run(`${BIN}/bun`, ['test', '--timeout', '60000', ...files.map((f) => `./${f}`)]);
  },
  async deno(files) {
    return run(`${BIN}/deno`, ['test', '-A', '--unstable-net', ...files]);
  },
  async node(files) {
    await rm(NODE_OUT, { recursive: true, force: true });
    await build({
      entryPoints: files,
      outdir: NODE_OUT,
      outbase: 'test',
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outExtension: { '.js': '.mjs' },
      logLevel: 'warning',
    });
    const built = files.map((f) => join(NODE_OUT, f.slice('test/'.length).replace(/\.ts$/, '.mjs')));
    const result = await run(process.execPath, ['--test', '--test-concurrency=1', ...built]);
    await rm(NODE_OUT, { recursive: true, force: true });
    return result;
  },
};

// Integration tests start real processes against real DNS software; the Bun leg runs them all
// on the shipped executable. The Deno and Node legs run every unit test and this smoke set,
// which still covers each of their adapters (UDP, TCP, HTTP, TLS, files) in a real process.
// HOLDFAST_FULL_LEGS=1 runs every integration test on every leg.
const SMOKE = new Set([
  'test/integration/smoke.test.ts',
  'test/integration/socket-faults.test.ts',
  'test/integration/tcp.test.ts',
  'test/integration/http.test.ts',
  'test/integration/snapshot.test.ts',
  'test/integration/encrypted-upstreams.test.ts',
  'test/integration/relay.test.ts',
  'test/integration/config-file.test.ts',
]);
const isIntegration = (f) => f.startsWith('test/integration/') || f.startsWith('test/packaging/');
const filesFor = (leg, files) => (leg === 'bun' || process.env.HOLDFAST_FULL_LEGS === '1' ? files : files.filter((f) => !isIntegration(f) || SMOKE.has(f)));

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const wanted = (dash < 0 ? argv : argv.slice(0, dash)).filter((a) => a in legs);
const filter = dash < 0 ? null : argv.slice(dash + 1).join(' ');
let files = await testFiles();
if (filter) files = files.filter((f) => f.includes(filter));
const chosen = wanted.length ? wanted : ['bun', 'deno', 'node'];

// What the tests run besides the sources: the Node bundle (Holdfast on the node leg) and the
// Bun executables (test/integration/arm64-binary.test.ts). Built once for every leg, and only
// when older than their inputs, so a second run starts at once.
process.stdout.write('\n=== build: bundle, linux-x64, linux-arm64 ===\n');
const built = await buildTargets(['bundle', 'linux-x64', 'linux-arm64'], { ifStale: true });
const fresh = built.filter((b) => b.status === 'fresh').map((b) => b.path);
if (fresh.length) process.stdout.write(`up to date: ${fresh.join(', ')}\n`);
const buildFailed = built.filter((b) => b.status !== 'built' && b.status !== 'fresh');

const results = [];
for (const leg of chosen) {
  const legFiles = filesFor(leg, files);
  if (legFiles.length === 0) {
    process.stdout.write(`\n=== ${leg}: no test file matches ===\n`);
    continue;
  }
  process.stdout.write(`\n=== ${leg}: ${legFiles.length} test files ===\n`);
  const { code, output } = await legs[leg](legFiles);
  const [passed, failed] = counters[leg](output);
  results.push({ leg, code, passed, failed });
}
process.stdout.write('\n=== summary ===\n');
for (const r of results) process.stdout.write(`${r.leg}: ${r.passed} passed, ${r.failed} failed${r.code ? ` (exit ${r.code})` : ''}\n`);
const total = results.reduce((a, r) => [a[0] + r.passed, a[1] + r.failed], [0, 0]);
if (buildFailed.length) process.stdout.write(`build: failed: ${buildFailed.map((b) => b.name).join(', ')}\n`);
const bad = [...results.filter((r) => r.code !== 0 || r.failed > 0 || r.passed === 0), ...buildFailed];
process.stdout.write(`${total[0]} passed, ${total[1] + (bad.length && total[1] === 0 ? bad.length : 0)} failed\n`);
process.exit(bad.length ? 1 : 0);
