// `npm run torture` at a small size: a handful of SIGKILLs during snapshot writes, and the same
// with the file cut in half behind the server's back, which the report must catch.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runtimeName } from '../helpers/runtime.ts';
import { runCampaign } from './run-script.ts';

describe('npm run torture', { skip: runtimeName !== 'bun' && 'the Bun leg runs it: it drives the shipped executable' }, () => {
  it('kills the server during snapshot writes and finds every file whole and restored', async () => {
    const run = await runCampaign('torture.ts', ['--kills', '6', '--fill', '300', '--max-minutes', '2'], 180_000);
    assert.equal(run.result, 'pass', run.stdout + run.stderr);
    assert.equal(run.code, 0);
    for (const name of ['every kill leaves a whole file', 'never a lost good snapshot', 'restarts restore the file', 'temporary files cleared', 'kills ran']) {
      assert.equal(run.checks.get(name), true, name);
    }
  });

  it('reports a half file as a failure', async () => {
    const run = await runCampaign('torture.ts', ['--kills', '3', '--fill', '100', '--max-minutes', '2', '--damage'], 180_000);
    assert.equal(run.result, 'fail', run.stdout + run.stderr);
    assert.equal(run.checks.get('every kill leaves a whole file'), false);
  });
});
