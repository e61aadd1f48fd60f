// `npm run soak` for a few seconds: the load, the misbehaving TCP clients and every check run,
// with a settled window too short to judge RSS or p99 by (their bounds are loosened for it).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { runtimeName } from '../helpers/runtime.ts';
import { runCampaign } from './run-script.ts';

const noDnsperf = spawnSync('dnsperf', ['-h']).error !== undefined;

describe('npm run soak', { skip: (runtimeName !== 'bun' && 'the Bun leg runs it: it drives the shipped executable') || (noDnsperf && 'dnsperf is not installed') }, () => {
  it('holds a short soak with overload, misses and bad TCP clients, and reports every check passed', async () => {
    const run = await runCampaign('soak.ts', ['--minutes', '0.3', '--warmup-seconds', '6', '--miss-qps', '100', '--max-rss-growth-mb', '256', '--p99-slack-ms', '500', '--lost-slack-points', '20'], 240_000);
    assert.equal(run.result, 'pass', run.stdout + run.stderr);
    assert.equal(run.code, 0);
    for (const name of ['no crash', 'RSS flat after warm-up', 'bounded tables stay bounded', 'answers well-formed', 'well-behaved p99 held']) assert.equal(run.checks.get(name), true, name);
    assert.match(run.stdout, /bad TCP clients opened\s+\{"partial":\d+/);
  });
});
