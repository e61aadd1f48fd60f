import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG } from '../../src/config/config.ts';
import { argsDef, envName, getPath, RELOADABLE, settingsFor, settingsMarkdown } from '../../src/config/derive.ts';
import { SETTINGS } from '../../src/config/settings.ts';

describe('#13 - the settings table', () => {
  it('is what docs/configuration.md lists (node build/settings-doc.mjs writes it)', () => {
    const doc = readFileSync('docs/configuration.md', 'utf8');
    const m = /<!-- settings:begin -->\n([\s\S]*?)<!-- settings:end -->/.exec(doc);
    assert.ok(m, 'docs/configuration.md has the settings markers');
    assert.equal(m[1], settingsMarkdown(), 'docs/configuration.md is stale: run node build/settings-doc.mjs');
  });

  it('has one row for every key of the configuration, and a key for every row', () => {
    const keys: string[] = [];
    for (const [k, v] of Object.entries(DEFAULT_CONFIG)) {
      const isGroup = v !== null && typeof v === 'object' && !Array.isArray(v) && !('port' in v);
      if (isGroup) for (const k2 of Object.keys(v)) keys.push(`${k}.${k2}`);
      else keys.push(k);
    }
    assert.deepEqual(keys.sort(), SETTINGS.map((s) => s.path).sort());
  });

  it('gives each command one row per flag, so a flag and its variable mean one thing', () => {
    for (const command of ['serve', 'relay'] as const) {
      const flags = settingsFor(command).flatMap((s) => (s.flag ? [s.flag] : []));
      assert.equal(new Set(flags).size, flags.length, `${command}: a flag appears twice`);
      assert.deepEqual(Object.keys(argsDef(command)).sort(), [...flags].sort());
    }
    assert.equal(envName('cache-memory'), 'HOLDFAST_CACHE_MEMORY');
  });

  it('holds defaults its own ranges accept, each with a one-line doc', () => {
    for (const s of SETTINGS) {
      assert.equal(s.kind.check(getPath(DEFAULT_CONFIG, s.path) as never), null, s.path);
      assert.ok(s.doc.length > 0 && !s.doc.includes('\n'), `${s.path}: one line of doc`);
    }
  });

  it('reloads upstreams, access lists and limits on SIGHUP, and leaves listeners and the cache to a restart', () => {
    for (const p of ['upstreams', 'upstream.totalTimeoutMs', 'encryptedUpstream.proxy', 'relayUpstream.token', 'access.allow', 'rateLimit.perClientQps', 'log.level']) assert.ok(RELOADABLE.has(p), p);
    for (const p of ['listen', 'cache.maxBytes', 'cache.file', 'tcp.maxConnections', 'http.listen', 'queryLog.file', 'log.format']) assert.ok(!RELOADABLE.has(p), p);
  });
});
