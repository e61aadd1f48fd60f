import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG, type ServerConfig } from '../../../src/config/config.ts';
import { ErrorCode, isHoldfastError } from '../../../src/core/errors.ts';
import { checkRelayExposure } from '../../../src/server/listeners.ts';

function relayOn(address: string, o: Partial<ServerConfig['relayServer']> = {}): ServerConfig {
  return { ...DEFAULT_CONFIG, relayServer: { ...DEFAULT_CONFIG.relayServer, listen: { address, port: 8053 }, ...o } };
}

describe('holdfast relay: who may reach it', () => {
  it('#15 - refuses to listen beyond loopback without a token', () => {
    for (const a of ['0.0.0.0', '::', '192.168.1.1']) {
      assert.throws(() => checkRelayExposure(relayOn(a)), (e) => isHoldfastError(e, ErrorCode.config) && /--relay-open yes/.test((e as Error).message), a);
    }
  });

  it('listens beyond loopback with a token, or when told outright; on loopback always', () => {
    assert.doesNotThrow(() => checkRelayExposure(relayOn('0.0.0.0', { token: 'tok' })));
    assert.doesNotThrow(() => checkRelayExposure(relayOn('0.0.0.0', { open: 'yes' })));
    assert.doesNotThrow(() => checkRelayExposure(relayOn('127.0.0.1')));
    assert.doesNotThrow(() => checkRelayExposure(relayOn('::1')));
  });
});
