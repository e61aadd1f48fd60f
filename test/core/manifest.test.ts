import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { VERSION } from '../../src/core/version.ts';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const deno = JSON.parse(readFileSync('deno.json', 'utf8'));

describe('package.json and deno.json', () => {
  it('agree on the version the program reports', () => {
    assert.equal(VERSION, pkg.version);
  });

  it('list the same runtime dependencies at the same versions', () => {
    const fromDeno = Object.fromEntries(
      Object.entries(deno.imports as Record<string, string>).map(([k, v]) => [k, v.replace(/^npm:[^@]*(@[^@]+)?@/, '')]),
    );
    assert.deepEqual(fromDeno, pkg.dependencies);
  });

  it('share the test, build and bench tasks', () => {
    for (const t of ['test', 'build', 'bench', 'bench:lossy']) assert.equal(deno.tasks[t], pkg.scripts[t], t);
  });
});
