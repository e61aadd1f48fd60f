import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// The pure core and pipeline must run unchanged on any runtime: everything runtime-specific
// arrives through core/ports.ts.
const FORBIDDEN = [
  { what: 'a node: import', re: /from\s+['"]node:/ },
  { what: 'a bun: import', re: /from\s+['"]bun:?/ },
  { what: 'an import of the adapters', re: /from\s+['"][./]*\/adapters\// },
  { what: 'the Deno global', re: /\bDeno\./ },
  { what: 'the Bun global', re: /\bBun\./ },
  { what: 'the process global', re: /\bprocess\./ },
  { what: 'console', re: /\bconsole\./ },
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

export function breaches(text: string): string[] {
  // Comments may mention runtimes; only code counts.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
  return FORBIDDEN.filter((f) => f.re.test(code)).map((f) => f.what);
}

describe('the pure core', () => {
  it('finds a runtime import when one is there (the scan can fail)', () => {
    assert.deepEqual(breaches("import dgram from 'node:dgram';"), ['a node: import']);
    assert.deepEqual(breaches('const x = Deno.args;'), ['the Deno global']);
    assert.deepEqual(breaches('// Deno.args in a comment'), []);
  });

  // server/http too: the HTTP side is a Fetch API handler, and the adapters own the server.
  for (const dir of ['src/core', 'src/config', 'src/gate', 'src/pipeline', 'src/upstreams', 'src/protocols', 'src/services', 'src/server/http']) {
    it(`${dir} imports nothing runtime-specific`, () => {
      const files = sources(dir);
      assert.ok(files.length > 0, `expected sources under ${dir}`);
      const found = files.flatMap((f) => breaches(readFileSync(f, 'utf8')).map((b) => `${f}: ${b}`));
      assert.deepEqual(found, []);
    });
  }
});
