import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configFromFlags, parseHttpListen } from '../../src/cli/commands/serve.ts';
import { ErrorCode, isHoldfastError } from '../../src/core/errors.ts';

const configError = (e: unknown) => isHoldfastError(e, ErrorCode.config);

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
