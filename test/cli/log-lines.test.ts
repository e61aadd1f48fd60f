import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ConsolaInstance } from 'consola';
import { exposedHttpLogLine } from '../../src/cli/log-lines.ts';

/** A logger that records each warning's message and fields. */
function recorder() {
  const warnings: Array<[string, Record<string, unknown>]> = [];
  const log = { warn: (msg: string, fields: Record<string, unknown>) => warnings.push([msg, fields]) } as unknown as ConsolaInstance;
  return { log, warnings };
}

describe('log lines: an HTTP port without a token', () => {
  it('#15 - warns once when the HTTP port or the relay listens beyond loopback without a token', () => {
    const r = recorder();
    exposedHttpLogLine(r.log, 'http', '192.168.1.1');
    exposedHttpLogLine(r.log, 'relay', '0.0.0.0');
    assert.equal(r.warnings.length, 2);
    assert.match(r.warnings[0][0], /^http listens on 192\.168\.1\.1 without a token.*--http-token/);
    assert.match(r.warnings[1][0], /^relay listens on 0\.0\.0\.0 without a token.*--relay-token/);
  });

  it('says nothing for loopback', () => {
    const r = recorder();
    exposedHttpLogLine(r.log, 'http', '127.0.0.1');
    exposedHttpLogLine(r.log, 'relay', '::1');
    assert.equal(r.warnings.length, 0);
  });
});
