import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG, validateConfig, type ServerConfig } from '../../src/core/config.ts';
import { ErrorCode, isHoldfastError } from '../../src/core/errors.ts';

function rejects(c: ServerConfig, key: string): void {
  assert.throws(
    () => validateConfig(c),
    (e: unknown) => isHoldfastError(e, ErrorCode.config) && e.message.startsWith(`config: ${key} `),
    `expected ${key} to be named`,
  );
}

const withCache = (cache: Partial<ServerConfig['cache']>): ServerConfig => ({ ...DEFAULT_CONFIG, cache: { ...DEFAULT_CONFIG.cache, ...cache } });
const withUpstream = (u: Partial<ServerConfig['upstream']>): ServerConfig => ({ ...DEFAULT_CONFIG, upstream: { ...DEFAULT_CONFIG.upstream, ...u } });
const withTcp = (t: Partial<ServerConfig['tcp']>): ServerConfig => ({ ...DEFAULT_CONFIG, tcp: { ...DEFAULT_CONFIG.tcp, ...t } });

describe('validateConfig', () => {
  it('accepts the defaults and returns the same object', () => {
    assert.equal(validateConfig(DEFAULT_CONFIG), DEFAULT_CONFIG);
  });

  it('needs at least one listen address with a port in range', () => {
    rejects({ ...DEFAULT_CONFIG, listen: [] }, 'listen');
    rejects({ ...DEFAULT_CONFIG, listen: [{ address: '::1', port: 53 }, { address: '127.0.0.1', port: 65536 }] }, 'listen[1].port');
    assert.doesNotThrow(() => validateConfig({ ...DEFAULT_CONFIG, listen: [{ address: '127.0.0.1', port: 0 }] }));
  });

  it('names the cache key at fault', () => {
    rejects(withCache({ maxEntries: 0 }), 'cache.maxEntries');
    rejects(withCache({ maxEntries: 1.5 }), 'cache.maxEntries');
    rejects(withCache({ maxBytes: 65_535 }), 'cache.maxBytes');
    rejects(withCache({ maxBytes: 1024 ** 4 + 1 }), 'cache.maxBytes');
    rejects(withCache({ maxBytes: 1e6 + 0.5 }), 'cache.maxBytes');
    rejects(withCache({ maxBytes: Number.NaN }), 'cache.maxBytes');
    rejects(withCache({ minTtlSeconds: -1 }), 'cache.minTtlSeconds');
    rejects(withCache({ maxTtlSeconds: 0 }), 'cache.maxTtlSeconds');
    rejects(withCache({ minTtlSeconds: 600, maxTtlSeconds: 300 }), 'cache.minTtlSeconds');
    rejects(withCache({ negativeMaxTtlSeconds: 86_401 }), 'cache.negativeMaxTtlSeconds');
    rejects(withCache({ servfailTtlSeconds: 301 }), 'cache.servfailTtlSeconds');
  });

  it('names the upstream and tcp keys at fault', () => {
    rejects(withUpstream({ attemptTimeoutMs: 9 }), 'upstream.attemptTimeoutMs');
    rejects(withUpstream({ totalTimeoutMs: Number.NaN }), 'upstream.totalTimeoutMs');
    rejects(withUpstream({ maxAttempts: 0 }), 'upstream.maxAttempts');
    rejects(withTcp({ idleTimeoutMs: 99 }), 'tcp.idleTimeoutMs');
    rejects(withTcp({ maxConnections: 0 }), 'tcp.maxConnections');
    rejects(withTcp({ maxInFlightPerConnection: 10_001 }), 'tcp.maxInFlightPerConnection');
  });

  it('accepts the edges of every range', () => {
    assert.doesNotThrow(() => validateConfig(withCache({ maxEntries: 1, minTtlSeconds: 0, maxTtlSeconds: 604_800, servfailTtlSeconds: 0 })));
    assert.doesNotThrow(() => validateConfig(withCache({ maxBytes: 65_536 })));
    assert.doesNotThrow(() => validateConfig(withCache({ maxBytes: 1024 ** 4 })));
    assert.doesNotThrow(() => validateConfig(withUpstream({ attemptTimeoutMs: 10, totalTimeoutMs: 120_000, maxAttempts: 10 })));
  });
});
