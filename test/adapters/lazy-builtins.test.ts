import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

// #11: Node's modules for TLS, HTTP and outgoing TCP are imported when first used
// (src/adapters/node/builtins.ts), because a module imported at the top of any file is loaded at
// start: on the Bun executable node:http, node:tls, node:net and node:crypto cost about 4 MiB of
// RSS in a server that forwards plain DNS. The shipped bundle is read rather than the sources,
// since what counts is what the bundler hoists (a static import anywhere, even in a module
// reached only through import(), ends up at the top of the bundle).
const LAZY = ['http', 'https', 'tls', 'net', 'crypto', 'stream', 'readline'];

describe('#11 - the bundle loads heavy builtins on demand', () => {
  const bundle = readFileSync('dist/holdfast.mjs', 'utf8');
  const staticImports = new Set([...bundle.matchAll(/(?:^|[;}\s])import\s*(?:[\w$*{}\s,]+from\s*)?["']node:([\w/]+)["']/g)].map((m) => m[1]));

  it('finds the static imports it looks for', () => {
    // Else a change of the bundler's output would make the next test pass for nothing.
    assert.ok(staticImports.has('fs/promises') && staticImports.has('dgram'), `static imports found: ${[...staticImports].join(', ')}`);
  });

  it('imports none of them at the top', () => {
    assert.deepEqual(LAZY.filter((m) => staticImports.has(m)), []);
  });

  it('imports them where they are used', () => {
    // assert.ok rather than assert.match, whose message would hold the whole bundle.
    for (const m of ['http', 'tls', 'net', 'crypto']) assert.ok(new RegExp(`import\\(["']node:${m}["']\\)`).test(bundle), `no import("node:${m}")`);
  });
});
