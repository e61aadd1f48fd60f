import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configFromFlags } from '../../src/cli/commands/serve.ts';
import { DEFAULT_CONFIG } from '../../src/config/config.ts';
import { flagValue } from '../../src/config/derive.ts';
import { ErrorCode, isHoldfastError } from '../../src/core/errors.ts';

const configError = (e: unknown) => isHoldfastError(e, ErrorCode.config);
const parseHttpListen = (text: string) => flagValue('serve', 'http', text);

describe('serve flags: --http', () => {
  it('listens on loopback only when given a port alone, with or without a colon', () => {
    assert.deepEqual(parseHttpListen('9153'), { address: '127.0.0.1', port: 9153 });
    assert.deepEqual(parseHttpListen(':9153'), { address: '127.0.0.1', port: 9153 });
    assert.deepEqual(parseHttpListen('0'), { address: '127.0.0.1', port: 0 });
  });

  it('takes an address as given, IPv6 in brackets', () => {
    assert.deepEqual(parseHttpListen('0.0.0.0:9153'), { address: '0.0.0.0', port: 9153 });
    assert.deepEqual(parseHttpListen('192.168.1.1:80'), { address: '192.168.1.1', port: 80 });
    assert.deepEqual(parseHttpListen('[::1]:9153'), { address: '::1', port: 9153 });
  });

  it('refuses what is not [ADDR:]PORT, naming the flag', () => {
    for (const bad of ['', 'localhost', '127.0.0.1', '70000', ':70000', '127.0.0.1:x', '[::1]', ':', 'a:b:c']) {
      assert.throws(() => parseHttpListen(bad), (e: unknown) => configError(e) && (e as Error).message.startsWith('--http: '), bad);
    }
  });

  it('is off unless set', () => {
    const c = configFromFlags([], {});
    assert.equal(c.http.listen, null);
    assert.equal(c.http.token, null);
  });
});

describe('serve flags: the HTTP token', () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];

  it('comes from --http-token, or else HOLDFAST_HTTP_TOKEN; the flag wins', () => {
    assert.equal(configFromFlags([], { http: '9153', 'http-token': 'from-flag' }, env({ HOLDFAST_HTTP_TOKEN: 'from-env' })).http.token, 'from-flag');
    assert.equal(configFromFlags([], { http: '9153' }, env({ HOLDFAST_HTTP_TOKEN: 'from-env' })).http.token, 'from-env');
    assert.equal(configFromFlags([], { http: '9153' }, env({ HOLDFAST_HTTP_TOKEN: '' })).http.token, null, 'an empty variable is unset');
  });

  it('refuses a token with a space, naming the key', () => {
    assert.throws(() => configFromFlags([], { http: '9153', 'http-token': 'a b' }), (e: unknown) => configError(e) && /http\.token/.test((e as Error).message));
  });
});

describe('serve flags: --query-log', () => {
  it('sets how many queries are kept, 0 by default', () => {
    assert.equal(configFromFlags([], {}).queryLog.maxEntries, 0);
    assert.equal(configFromFlags([], { 'query-log': '500' }).queryLog.maxEntries, 500);
    assert.throws(() => configFromFlags([], { 'query-log': 'lots' }), (e: unknown) => configError(e) && /--query-log/.test((e as Error).message));
  });
});

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

  it('falls back on absent or empty values', () => {
    assert.equal(configFromFlags([], {}).cache.maxBytes, DEFAULT_CONFIG.cache.maxBytes);
    assert.equal(configFromFlags(['--cache-memory='], {}).cache.maxBytes, DEFAULT_CONFIG.cache.maxBytes);
  });
});

describe('#4 - serve flags: --proxy', () => {
  const withFileProxy = { ...DEFAULT_CONFIG, encryptedUpstream: { ...DEFAULT_CONFIG.encryptedUpstream, proxy: 'http://192.0.2.8:3128' } };

  it('sets encryptedUpstream.proxy; not given, the file\'s stays', () => {
    assert.equal(configFromFlags([], { proxy: 'http://127.0.0.1:3128' }).encryptedUpstream.proxy, 'http://127.0.0.1:3128');
    assert.equal(configFromFlags([], {}).encryptedUpstream.proxy, null);
    assert.equal(configFromFlags([], {}, undefined, withFileProxy).encryptedUpstream.proxy, 'http://192.0.2.8:3128');
  });

  it('is turned off by "none" or an empty value, even when the file sets one', () => {
    for (const off of ['none', 'NONE', '']) assert.equal(configFromFlags([], { proxy: off }, undefined, withFileProxy).encryptedUpstream.proxy, null, off);
  });

  it('comes from HOLDFAST_PROXY when the flag is not given, and never from HTTPS_PROXY', () => {
    const env = (vars: Record<string, string>) => (name: string) => vars[name];
    const merged = (raw: string[], vars: Record<string, string>) => {
      const args: Record<string, unknown> = {};
      for (const a of raw) if (a.startsWith('--proxy=')) args.proxy = a.slice('--proxy='.length);
      return configFromFlags(raw, args, env(vars)).encryptedUpstream.proxy;
    };
    assert.equal(merged([], { HOLDFAST_PROXY: 'http://10.0.0.1:3128' }), 'http://10.0.0.1:3128');
    assert.equal(merged(['--proxy=none'], { HOLDFAST_PROXY: 'http://10.0.0.1:3128' }), null, 'the flag wins');
    assert.equal(merged([], { HTTPS_PROXY: 'http://10.0.0.1:3128', https_proxy: 'http://10.0.0.1:3128' }), null);
  });

  it('names the flag and the problem for a URL it cannot use', () => {
    assert.throws(() => flagValue('serve', 'proxy', 'socks5://127.0.0.1'), (e: unknown) => configError(e) && /^--proxy: must be an http:\/\/ proxy/.test((e as Error).message));
    assert.throws(() => configFromFlags([], { proxy: 'http://127.0.0.1:0' }), (e: unknown) => configError(e) && /^--proxy: has port "0"/.test((e as Error).message));
  });
});
