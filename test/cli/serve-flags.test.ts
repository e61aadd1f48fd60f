import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sizeFlag } from '../../src/cli/args.ts';
import { configFromFlags } from '../../src/cli/commands/serve.ts';
import { DEFAULT_CONFIG } from '../../src/core/config.ts';
import { ErrorCode, isHoldfastError } from '../../src/core/errors.ts';

/** configFromFlags as the serve command calls it, for `--name value` pairs. */
function fromFlags(flags: Record<string, string>) {
  const raw = Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]);
  return configFromFlags(['--upstream', 'udp://127.0.0.1', ...raw], { upstream: 'udp://127.0.0.1', ...flags });
}

function throwsNaming(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isHoldfastError(e, ErrorCode.config), `not a config error: ${e}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

describe('serve flags: --cache-memory', () => {
  for (const [text, bytes] of [
    ['16M', 16 * 1024 * 1024],
    ['16m', 16 * 1024 * 1024],
    ['512K', 512 * 1024],
    ['1G', 1024 ** 3],
    ['1048576', 1_048_576],
    ['64k', 65_536],
  ] as const) {
    it(`reads ${text} as ${bytes} bytes into cache.maxBytes`, () => {
      assert.equal(fromFlags({ 'cache-memory': text }).cache.maxBytes, bytes);
    });
  }

  it('leaves the default when the flag is absent, and keeps the entry bound beside it', () => {
    const c = fromFlags({});
    assert.equal(c.cache.maxBytes, DEFAULT_CONFIG.cache.maxBytes);
    assert.equal(c.cache.maxEntries, DEFAULT_CONFIG.cache.maxEntries);
    const both = fromFlags({ 'cache-memory': '32M', 'cache-size': '5000' });
    assert.deepEqual([both.cache.maxBytes, both.cache.maxEntries], [32 * 1024 * 1024, 5000]);
  });

  for (const bad of ['lots', '16MB', '16MiB', '1.5G', '-1', '16 M', 'M', '0x100', '16T']) {
    it(`names the flag and the value for "${bad}"`, () => {
      throwsNaming(() => fromFlags({ 'cache-memory': bad }), /--cache-memory/, new RegExp(`"${bad.replace(/[.+]/g, '\\$&')}"`), /16M/);
    });
  }

  it('names the key when the size is out of range', () => {
    throwsNaming(() => fromFlags({ 'cache-memory': '1K' }), /cache\.maxBytes/, /got 1024\b/);
    throwsNaming(() => fromFlags({ 'cache-memory': '0' }), /cache\.maxBytes/);
    throwsNaming(() => fromFlags({ 'cache-memory': '2048G' }), /cache\.maxBytes/);
  });

  it('sizeFlag: falls back on absent or empty values', () => {
    assert.equal(sizeFlag('x', undefined, 7), 7);
    assert.equal(sizeFlag('x', '', 7), 7);
  });
});
