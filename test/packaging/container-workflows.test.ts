// The GitHub workflows, whose jobs run in containers (CI's tests in debian:bookworm with the
// capabilities the lossy-link tests need; the release's musl executables in Alpine): both parse
// as YAML, the release runs only after the tests pass and attaches what issue 10 lists, CI
// fails rather than skips the lossy-link tests, and packaging/container/smoke.sh, the release's
// Alpine check, works here on the glibc executable. GitHub itself is not run: what these tests
// cannot see is whether GitHub accepts every key (no actionlint here).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import process from 'node:process';
import { freePort } from '../helpers/ports.ts';
import { lossyLinkSkipReason } from '../helpers/netns.ts';
import { runtimeName } from '../helpers/runtime.ts';
import { executableSkipReason, nativeBinary } from './systemd-container-harness.ts';

/** Parsed YAML: its shape is what the assertions check. */
// deno-lint-ignore no-explicit-any
type Json = any;

/** Debian's python3 with python3-yaml (.ci/run installs it); the pyenv one on PATH may lack it. */
const PYTHON = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import yaml'], { stdio: 'ignore' }).status === 0);

/** A YAML file as JSON, through PyYAML's safe loader. */
function loadYaml(path: string): Json {
  const r = spawnSync(PYTHON!, ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', path], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `${path} is not valid YAML:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** YAML 1.1 reads a bare `on` key as the boolean true: the workflow's triggers are under either. */
const triggers = (w: Json): Json => w.on ?? w.true;
const runs = (job: Json): string => (job.steps ?? []).map((s: Json) => s.run ?? '').join('\n');
const uses = (job: Json): string[] => (job.steps ?? []).flatMap((s: Json) => (s.uses ? [s.uses] : []));
const needsOf = (job: Json): string[] => (job.needs === undefined ? [] : [job.needs].flat());

describe('.github/workflows', { skip: PYTHON ? false : 'needs PyYAML (apt-get install python3-yaml)' }, () => {
  let ci: Json;
  let release: Json;
  before(() => {
    ci = loadYaml('.github/workflows/ci.yml');
    release = loadYaml('.github/workflows/release.yml');
  });

  it('#10 - ci.yml gives its container the capabilities for network namespaces and requires the lossy-link tests to run', () => {
    const job = ci.jobs.test;
    assert.match(job.container.options, /--cap-add NET_ADMIN/);
    assert.match(job.container.options, /--cap-add SYS_ADMIN/);
    assert.match(job.container.options, /apparmor=unconfined/);
    const step = job.steps.find((s: Json) => s.run === 'bash .ci/run');
    assert.ok(step, 'ci.yml runs .ci/run');
    assert.equal(step.env.HOLDFAST_REQUIRE_NETNS, '1');
    assert.ok('workflow_call' in triggers(ci), 'release.yml calls ci.yml, so ci.yml must be callable');
  });

  it('#10 - release.yml runs on a version tag, and every job after the tests needs them', () => {
    assert.deepEqual(triggers(release).push.tags, ['v*']);
    assert.equal(release.jobs.test.uses, './.github/workflows/ci.yml');
    // Every other job reaches the test job through its needs.
    const reaches = (name: string, seen: Set<string> = new Set()): boolean => {
      seen.add(name);
      return needsOf(release.jobs[name]).some((n) => n === 'test' || (!seen.has(n) && reaches(n, seen)));
    };
    for (const name of Object.keys(release.jobs).filter((n) => n !== 'test')) assert.ok(reaches(name), `${name} does not wait for the tests`);
  });

  it('#10 - release.yml builds every target strictly, packages the ipk files and attests them with the xz executables and SHA256SUMS', () => {
    const build = release.jobs.build;
    const script = runs(build);
    assert.match(script, /node build\/build\.mjs --strict/);
    assert.match(script, /npm run package/);
    for (const arch of ['x86_64', 'aarch64_generic', 'aarch64_cortex-a53']) assert.ok(script.includes(arch), `no ${arch} ipk`);
    assert.match(script, /xz .*dist\/holdfast-linux-\*/s);
    assert.match(script, /sha256sum \* > SHA256SUMS/);
    assert.ok(uses(build).some((u) => u.startsWith('actions/attest-build-provenance@')));
    assert.equal(build.permissions['id-token'], 'write');
    assert.equal(build.permissions.attestations, 'write');
    assert.equal(release.jobs.publish.permissions.contents, 'write');
    assert.equal(release.permissions.contents, 'read', 'only the publishing job may write');
  });

  it('#10 - release.yml runs each musl executable in Alpine with libstdc++, offline, through smoke.sh', () => {
    const smoke = release.jobs['smoke-musl'];
    assert.deepEqual(smoke.strategy.matrix.include.map((m: Json) => m.arch).sort(), ['arm64', 'x64']);
    const script = runs(smoke);
    assert.match(script, /FROM alpine:/);
    assert.match(script, /apk add .*libstdc\+\+ libgcc/);
    assert.match(script, /--network none/);
    assert.match(script, /holdfast-linux-\$\{\{ matrix\.arch \}\}-musl\.xz/);
    assert.match(script, /packaging\/container\/smoke\.sh/);
    assert.ok(existsSync('packaging/container/smoke.sh'));
  });
});

describe('HOLDFAST_REQUIRE_NETNS', () => {
  const saved = { path: process.env.PATH, require: process.env.HOLDFAST_REQUIRE_NETNS };
  after(() => {
    process.env.PATH = saved.path;
    if (saved.require === undefined) delete process.env.HOLDFAST_REQUIRE_NETNS;
    else process.env.HOLDFAST_REQUIRE_NETNS = saved.require;
  });

  it('#10 - turns "the lossy link cannot be made here" from a skip into a failure', () => {
    // With no PATH there is no `ip` to find, as on a machine without iproute2 (or, without root,
    // the reason is that one; either way there is a reason).
    process.env.PATH = '';
    delete process.env.HOLDFAST_REQUIRE_NETNS;
    const reason = lossyLinkSkipReason(runtimeName);
    assert.ok(reason, 'no skip reason without ip on the PATH');
    process.env.HOLDFAST_REQUIRE_NETNS = '1';
    assert.throws(() => lossyLinkSkipReason(runtimeName), /HOLDFAST_REQUIRE_NETNS=1, but the lossy-link tests cannot run here/);
    process.env.PATH = saved.path;
  });
});

const dnsmasq = spawnSync('dnsmasq', ['--version'], { stdio: 'ignore' });
const smokeSkip = executableSkipReason() ?? (dnsmasq.error ? 'needs dnsmasq (apt-get install dnsmasq-base)' : false);

describe('packaging/container/smoke.sh, the release\'s musl check, on this machine\'s executable', { skip: smokeSkip }, () => {
  it('#10 - prints the version and gets a real answer through holdfast serve from a local dnsmasq', async () => {
    const upstreamPort = await freePort();
    const port = await freePort();
    const r = spawnSync('sh', ['packaging/container/smoke.sh', nativeBinary(), String(upstreamPort), String(port)], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^holdfast \d+\.\d+\.\d+/);
    assert.match(r.stdout, /www\.smoke\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.53/);
  });
});
