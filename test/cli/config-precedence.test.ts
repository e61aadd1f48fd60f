import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG, validateConfig } from '../../src/config/config.ts';
import { envName } from '../../src/config/derive.ts';
import { configFromText } from '../../src/config/file.ts';
import { loadConfig } from '../../src/config/load.ts';
import { ErrorCode, HoldfastError } from '../../src/core/errors.ts';

const FILE = `
upstreams = ["udp://10.0.0.1"]
[cache]
maxBytes = "2M"
maxEntries = 5000
staleIfErrorSeconds = 100
[access]
deny = ["10.9.0.0/16"]
`;

/** As `serve` loads it: the command line, the environment and files. */
function load(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = { '/etc/h.toml': FILE }) {
  return loadConfig({ command: 'serve', rawArgs: argv, env: (n: string) => env[n], fs: { readText: async (p: string) => files[p] ?? null } });
}

describe('configuration precedence: flags > env > file > defaults', () => {
  it('derives variable names from flags', () => {
    assert.equal(envName('cache-memory'), 'HOLDFAST_CACHE_MEMORY');
    assert.equal(envName('upstream'), 'HOLDFAST_UPSTREAM');
  });

  it('takes the file over the defaults', async () => {
    const c = await load(['--config=/etc/h.toml']);
    assert.deepEqual(c.upstreams, ['udp://10.0.0.1']);
    assert.equal(c.cache.maxBytes, 2 * 1024 * 1024);
    assert.equal(c.cache.maxEntries, 5000);
    assert.deepEqual(c.access.deny, ['10.9.0.0/16']);
    assert.equal(c.cache.minTtlSeconds, DEFAULT_CONFIG.cache.minTtlSeconds);
  });

  it('takes the environment over the file, and a list variable split on commas and spaces', async () => {
    const c = await load(['--config=/etc/h.toml'], { HOLDFAST_UPSTREAM: 'udp://10.0.0.2, udp://10.0.0.3', HOLDFAST_CACHE_MEMORY: '4M' });
    assert.deepEqual(c.upstreams, ['udp://10.0.0.2', 'udp://10.0.0.3']);
    assert.equal(c.cache.maxBytes, 4 * 1024 * 1024);
    assert.equal(c.cache.maxEntries, 5000);
  });

  it('takes flags over the environment and the file', async () => {
    const c = await load(['--config=/etc/h.toml', '--upstream=udp://10.0.0.4', '--cache-memory=1M'], { HOLDFAST_UPSTREAM: 'udp://10.0.0.2', HOLDFAST_CACHE_MEMORY: '4M' });
    assert.deepEqual(c.upstreams, ['udp://10.0.0.4']);
    assert.equal(c.cache.maxBytes, 1024 * 1024);
    assert.equal(c.cache.staleIfErrorSeconds, 100);
  });

  it('reads the query log file keys from the file, the environment and flags', async () => {
    const files = { '/etc/q.toml': '[queryLog]\nfile = "/var/log/q.log"\nmaxFileBytes = "2M"\nrotatedFiles = 3\n' };
    const fromFile = await load(['--config=/etc/q.toml'], {}, files);
    assert.deepEqual(fromFile.queryLog, { maxEntries: 0, file: '/var/log/q.log', maxFileBytes: 2 * 1024 ** 2, rotatedFiles: 3 });
    const fromEnv = await load(['--config=/etc/q.toml'], { HOLDFAST_QUERY_LOG_FILE: '/tmp/q.log', HOLDFAST_QUERY_LOG_MAX_BYTES: '64K', HOLDFAST_QUERY_LOG_FILES: '1' }, files);
    assert.deepEqual(fromEnv.queryLog, { maxEntries: 0, file: '/tmp/q.log', maxFileBytes: 64 * 1024, rotatedFiles: 1 });
    const fromFlags = await load(['--query-log-file=/a.log', '--query-log-max-bytes=4K'], { HOLDFAST_QUERY_LOG_FILE: '/tmp/q.log' });
    assert.equal(fromFlags.queryLog.file, '/a.log');
    assert.equal(fromFlags.queryLog.maxFileBytes, 4096);
    await assert.rejects(load(['--query-log-max-bytes=big']), /--query-log-max-bytes: "big" is not a size/);
    await assert.rejects(load(['--query-log-files=0']), /queryLog\.rotatedFiles/);
    await assert.rejects(load(['--config=/etc/q.toml'], {}, { '/etc/q.toml': '[queryLog]\nfile = 3\n' }), /queryLog\.file/);
  });

  it('finds the file from HOLDFAST_CONFIG', async () => {
    const c = await load([], { HOLDFAST_CONFIG: '/etc/h.toml' });
    assert.equal(c.cache.maxEntries, 5000);
  });

  it('treats an empty variable as unset', async () => {
    const c = await load(['--config=/etc/h.toml'], { HOLDFAST_UPSTREAM: '' });
    assert.deepEqual(c.upstreams, ['udp://10.0.0.1']);
  });

  it('names the variable\'s flag when its value is wrong', async () => {
    await assert.rejects(load([], { HOLDFAST_CACHE_MEMORY: 'lots' }), /--cache-memory: "lots" is not a size/);
  });

  it('names the key of a bad prefix in the file, and a missing file', async () => {
    await assert.rejects(load(['--config=/b.toml'], {}, { '/b.toml': '[access]\nallow = ["10.0.0.0/99"]' }), (e: unknown) => {
      assert.ok(e instanceof HoldfastError && e.code === ErrorCode.config);
      assert.match(e.message, /^config: access.allow\[0\] "10.0.0.0\/99" is not an address/);
      return true;
    });
    await assert.rejects(load(['--config=/none.toml']), /config: \/none.toml does not exist/);
  });
});

describe('packaging/holdfast.toml', () => {
  it('is a valid configuration', () => {
    const c = validateConfig(configFromText(readFileSync('packaging/holdfast.toml', 'utf8'), 'packaging/holdfast.toml', DEFAULT_CONFIG));
    assert.equal(c.cache.maxBytes, 8 * 1024 * 1024);
  });
});
