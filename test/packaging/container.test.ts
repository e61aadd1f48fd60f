// packaging/container/Containerfile, read as a build tool would (no container engine runs on
// this machine): each TARGETARCH gets its own executable, the base image has what that
// executable links against, it runs as a non-root user, and its ENTRYPOINT + CMD, run with the
// Bun executable (the listen port and file paths moved), answers over IPv4 and IPv6 and passes
// its own HEALTHCHECK command, which fails once nothing answers.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dig } from '../helpers/dns-client.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { freePort } from '../helpers/ports.ts';
import {
  ElfMachine,
  elfMachine,
  execForm,
  executableSkipReason,
  nativeBinary,
  neededLibraries,
  parseContainerfile,
  startExact,
  untilAnswering,
  type Instruction,
  type Started,
} from './systemd-container-harness.ts';

const CONTAINERFILE = 'packaging/container/Containerfile';
const steps = parseContainerfile(readFileSync(CONTAINERFILE, 'utf8'));
const finalStage = Math.max(...steps.map((s) => s.stage));
const inFinal = (keyword: string): Instruction[] => steps.filter((s) => s.stage === finalStage && s.keyword === keyword);
const one = (keyword: string): Instruction => {
  const found = inFinal(keyword);
  assert.equal(found.length, 1, `${keyword} appears ${found.length} times in the final stage`);
  return found[0];
};

/** Stage name (FROM ... AS name) to its index. */
const stageNames = new Map(
  steps.filter((s) => s.keyword === 'FROM').map((s) => [/\bAS\s+(\S+)$/i.exec(s.args)?.[1] ?? '', s.stage] as const),
);

/** Where a COPY from the build context (no --from) puts each source, in the final stage: image path to repo path. */
function contextFiles(): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of inFinal('COPY')) {
    const words = c.args.split(/\s+/);
    if (words.some((w) => w.startsWith('--from='))) continue;
    const [src, dest] = words.filter((w) => !w.startsWith('--'));
    out.set(dest, src);
  }
  return out;
}

/** The build-context file that becomes /usr/local/bin/holdfast for `targetArch` (amd64, arm64). */
function executableFor(targetArch: string): string {
  const copy = inFinal('COPY').find((c) => / \/usr\/local\/bin\/holdfast$/.test(c.args));
  assert.ok(copy, 'no COPY to /usr/local/bin/holdfast in the final stage');
  const from = /--from=(\S+)/.exec(copy.args)?.[1];
  assert.ok(from, 'the executable is not copied from an architecture stage');
  // FROM executable-${TARGETARCH} AS executable: the stage the final COPY reads, per architecture.
  const alias = steps.find((s) => s.keyword === 'FROM' && new RegExp(`\\bAS\\s+${from}$`, 'i').test(s.args));
  assert.ok(alias, `no stage named ${from}`);
  const base = alias.args.split(/\s+/)[0].replace('${TARGETARCH}', targetArch);
  const stage = stageNames.get(base);
  assert.ok(stage !== undefined, `TARGETARCH=${targetArch}: no stage ${base}`);
  const copies = steps.filter((s) => s.stage === stage && s.keyword === 'COPY');
  assert.equal(copies.length, 1, `stage ${base} should copy one file`);
  return copies[0].args.split(/\s+/)[0];
}

describe('packaging/container/Containerfile', () => {
  it('#10 - builds for amd64 and arm64, each from its own executable', () => {
    assert.ok(steps.some((s) => s.stage === -1 && s.keyword === 'ARG' && s.args === 'TARGETARCH'), 'ARG TARGETARCH before the first FROM');
    assert.equal(executableFor('amd64'), 'dist/holdfast-linux-x64');
    assert.equal(executableFor('arm64'), 'dist/holdfast-linux-arm64');
  });

  // build/build.mjs is not imported for its target list: run as the entry of a test process (the
  // node leg), it would take itself for the command line and build everything.
  it('#10 - the two executables (built by build/test.mjs) really are x86-64 and AArch64', () => {
    assert.equal(elfMachine(executableFor('amd64')), ElfMachine.x86_64);
    assert.equal(elfMachine(executableFor('arm64')), ElfMachine.aarch64);
  });

  it('its base image (distroless base: glibc, no libstdc++) has every library the executables link against', (t) => {
    assert.match(one('FROM').args, /^gcr\.io\/distroless\/base-debian12(:|@)/);
    // What Debian 12's libc6 installs; distroless base carries libc6 and nothing C++.
    const glibc = new Set(['libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'librt.so.1', 'ld-linux-x86-64.so.2', 'ld-linux-aarch64.so.1']);
    for (const arch of ['amd64', 'arm64']) {
      const needed = neededLibraries(executableFor(arch));
      if (needed === null) return t.skip('needs readelf (apt-get install binutils)');
      assert.ok(needed.length > 0, `${executableFor(arch)}: no NEEDED entries read`);
      assert.deepEqual(needed.filter((l) => !glibc.has(l)), [], `${executableFor(arch)} needs more than glibc`);
    }
  });

  it('#10 - runs as a non-root user', () => {
    const user = one('USER').args.split(':')[0];
    assert.ok(user !== '0' && user !== 'root' && user !== '', `USER ${user}`);
  });

  it('#10 - exposes the port its config listens on and its HEALTHCHECK asks, over UDP and TCP', () => {
    const config = readFileSync(contextFiles().get('/etc/holdfast/holdfast.toml')!, 'utf8');
    const listen = /^listen = \[(.*)\]$/m.exec(config)?.[1];
    assert.ok(listen, 'no listen line in the container config');
    const ports = new Set([...listen.matchAll(/:(\d+)"/g)].map((m) => m[1]));
    assert.equal(ports.size, 1, `one port for every listener: ${listen}`);
    const [port] = ports;
    assert.deepEqual(one('EXPOSE').args.split(/\s+/).sort(), [`${port}/tcp`, `${port}/udp`]);
    const health = healthcheckArgv();
    assert.equal(health[health.indexOf('--server') + 1], `127.0.0.1:${port}`);
  });
});

/** The HEALTHCHECK's command, in exec form. */
function healthcheckArgv(): string[] {
  const hc = one('HEALTHCHECK').args;
  const at = hc.indexOf('CMD ');
  assert.ok(at >= 0, `HEALTHCHECK without CMD: ${hc}`);
  return execForm(hc.slice(at + 4).trim());
}

describe('the image\'s ENTRYPOINT and CMD, run with the Bun executable', { skip: executableSkipReason() ?? false }, () => {
  let upstream: FakeUpstream;
  let dir: string;
  let port: number;
  let hf: Started | undefined;
  /** An image path to where this test puts it: the executable, the config (rewritten), the state directory. */
  let place: (word: string) => string;

  before(async () => {
    upstream = await startFakeUpstream({ a: '192.0.2.33' });
    dir = mkdtempSync(join(tmpdir(), 'holdfast-container-'));
    port = await freePort();
    const files = contextFiles();
    const configSource = files.get('/etc/holdfast/holdfast.toml');
    assert.ok(configSource, 'no config file copied to /etc/holdfast/holdfast.toml');
    const original = readFileSync(configSource, 'utf8');
    // Moved: the listen port (as `-p HOSTPORT:5333` would), the upstreams (nothing else can be
    // reached here), and the cache file out of the image's volume.
    const config = original
      .replace(/^(listen = \[.*)$/m, (line) => line.replace(/:(\d+)"/g, `:${port}"`))
      .replace(/^upstreams = .*$/m, `upstreams = ["${upstream.url.udp}"]`)
      .replace(/^file = "\/var\/lib\/holdfast\/([^"]*)"/m, (_, name) => `file = "${join(dir, name)}"`);
    assert.equal(config.split('\n').filter((l, i) => l !== original.split('\n')[i]).length, 3, 'listen, upstreams and cache file each rewritten once');
    writeFileSync(join(dir, 'holdfast.toml'), config);
    const binary = resolve(nativeBinary());
    place = (word) => (word === '/usr/local/bin/holdfast' ? binary : word === '/etc/holdfast/holdfast.toml' ? join(dir, 'holdfast.toml') : word);
    const argv = [...execForm(one('ENTRYPOINT').args), ...execForm(one('CMD').args)].map(place);
    hf = startExact(argv);
    await untilAnswering(hf, port);
  });

  after(async () => {
    if (hf && !hf.exited()) await hf.stop('SIGKILL');
    await upstream?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const healthcheck = () => {
    const argv = healthcheckArgv().map(place).map((w) => w.replace(/^127\.0\.0\.1:\d+$/, `127.0.0.1:${port}`));
    return spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 15_000 });
  };

  it('#10 - answers dig over 127.0.0.1 and ::1, UDP and TCP', async () => {
    for (const address of ['127.0.0.1', '::1']) {
      for (const transport of ['+notcp', '+tcp']) {
        const r = await dig(port, [transport, '+short', 'www.container.test', 'A'], address);
        assert.equal(r.stdout.trim(), '192.0.2.33', `dig @${address} ${transport}: ${r.stdout}${r.stderr}\n${hf!.output()}`);
      }
    }
  });

  it('#10 - passes its HEALTHCHECK command, answered without asking the upstream', () => {
    const before = upstream.received.length;
    const r = healthcheck();
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /status: NOERROR/);
    assert.equal(upstream.received.length, before, 'the health check reached the upstream');
  });

  it('#10 - fails its HEALTHCHECK command once the server is gone', async () => {
    const stopped = await hf!.stop('SIGTERM');
    assert.deepEqual(stopped, { code: 0, signal: null }, hf!.output());
    const r = healthcheck();
    assert.notEqual(r.status, 0, `the health check passed with nothing listening:\n${r.stdout}`);
  });
});
