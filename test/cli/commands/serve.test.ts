import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configFromFlags } from '../../../src/cli/commands/serve.ts';
import { DEFAULT_CONFIG } from '../../../src/config/config.ts';
import { ErrorCode, isHoldfastError } from '../../../src/core/errors.ts';

/** configFromFlags as citty would call it: the raw list, and the last value of each flag. */
function fromFlags(raw: string[]) {
  const args: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) args[raw[i].slice(2)] = raw[i + 1];
  return configFromFlags(raw, args);
}

function rejects(raw: string[], ...patterns: RegExp[]): void {
  assert.throws(
    () => fromFlags(raw),
    (e: unknown) => isHoldfastError(e, ErrorCode.config) && patterns.every((p) => p.test(e.message)),
    `expected ${raw.join(' ')} to be rejected`,
  );
}

describe('serve flags: access control and limits', () => {
  it('leaves the defaults alone without flags', () => {
    const c = fromFlags([]);
    assert.deepEqual(c.access, DEFAULT_CONFIG.access);
    assert.deepEqual(c.rateLimit, DEFAULT_CONFIG.rateLimit);
  });

  it('collects repeated --allow and --deny, and --allow replaces the default', () => {
    const c = fromFlags(['--allow', '10.0.0.0/8', '--allow', 'fd00::/8', '--deny', '10.9.0.0/16', '--deny', '10.8.0.1']);
    assert.deepEqual(c.access.allow, ['10.0.0.0/8', 'fd00::/8']);
    assert.deepEqual(c.access.deny, ['10.9.0.0/16', '10.8.0.1']);
    assert.deepEqual(fromFlags(['--allow', 'private', '--allow', '100.64.0.0/10']).access.allow, ['private', '100.64.0.0/10']);
  });

  it('answers private and local clients by default, and reads the local keyword and its refresh', () => {
    assert.deepEqual(fromFlags([]).access.allow, ['private', 'local']);
    assert.equal(fromFlags([]).access.localRefreshSeconds, 60);
    const c = fromFlags(['--allow', 'local', '--allow', '192.0.2.0/24', '--local-refresh', '5']);
    assert.deepEqual(c.access.allow, ['local', '192.0.2.0/24']);
    assert.equal(c.access.localRefreshSeconds, 5);
  });

  it('reads every limit flag into its key', () => {
    const c = fromFlags([
      '--refuse-action', 'drop', '--rate-limit', '50', '--rate-limit-burst', '100', '--rate-limit-ipv4-prefix', '24',
      '--rate-limit-ipv6-prefix', '56', '--rate-limit-global', '5000', '--rate-limit-global-burst', '9000',
      '--rate-limit-action', 'refuse', '--rate-limit-exempt', 'none', '--tcp-max-connections-per-client', '4',
    ]);
    assert.equal(c.access.refuseAction, 'drop');
    assert.deepEqual(
      { ...c.rateLimit },
      {
        ...DEFAULT_CONFIG.rateLimit,
        perClientQps: 50, perClientBurst: 100, ipv4PrefixBits: 24, ipv6PrefixBits: 56, globalQps: 5000, globalBurst: 9000,
        action: 'refuse', exempt: ['none'], tcpConnectionsPerClient: 4,
      },
    );
  });

  it('names the flag and the value of a bad prefix', () => {
    rejects(['--allow', '10.0.0.0/33'], /^--allow: "10\.0\.0\.0\/33"/, /0 to 32/);
    rejects(['--deny', 'lan'], /^--deny: "lan"/);
    rejects(['--rate-limit-exempt', '::1/200'], /^--rate-limit-exempt: "::1\/200"/, /0 to 128/);
    rejects(['--allow', 'none'], /^--allow: "none"/);
    rejects(['--deny', 'local'], /^--deny: "local"/);
    rejects(['--rate-limit-exempt', 'local'], /^--rate-limit-exempt: "local"/);
  });

  it('names the flag of a bad choice or number', () => {
    rejects(['--refuse-action', 'ignore'], /^--refuse-action: "ignore" is not one of refuse, drop/);
    rejects(['--rate-limit-action', 'slip'], /^--rate-limit-action: "slip" is not one of truncate, refuse, drop/);
    rejects(['--rate-limit', 'fast'], /--rate-limit: "fast"/);
    rejects(['--rate-limit-ipv6-prefix', '8'], /rateLimit\.ipv6PrefixBits/);
    rejects(['--rate-limit-burst', '0'], /rateLimit\.perClientBurst/);
    rejects(['--local-refresh', '0'], /access\.localRefreshSeconds/);
  });
});
