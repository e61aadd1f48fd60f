// The config file with the real process: `serve --config` takes it, `config check` prints it or
// names the problem and exits 2.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { udpExchange } from '../helpers/dns-client.ts';
import { plans, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startHoldfast, runHoldfast } from '../helpers/holdfast-process.ts';
import { decode, query } from '../helpers/packets.ts';
import { until } from '../helpers/until.ts';

describe('config file', () => {
  let dir: string;
  let upstream: FakeUpstream;
  let other: FakeUpstream;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'holdfast-config-'));
    upstream = await startFakeUpstream({ a: '192.0.2.7', defaultPlan: plans.answer() });
    other = await startFakeUpstream({ a: '192.0.2.8', defaultPlan: plans.answer() });
  });
  after(async () => {
    await upstream.close();
    await other.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('config check prints the effective configuration and exits 0', async () => {
    const file = join(dir, 'good.toml');
    writeFileSync(file, 'upstreams = ["udp://127.0.0.1:53"]\n[cache]\nmaxBytes = "2M" # two MiB\n');
    const r = await runHoldfast(['config', 'check', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^maxBytes = 2097152$/m);
    assert.match(r.stdout, /^upstreams = \["udp:\/\/127.0.0.1:53"\]$/m);
    assert.match(r.stdout, /^\[rateLimit\]$/m);
  });

  it('config check names a wrong key and exits 2', async () => {
    const file = join(dir, 'bad.toml');
    writeFileSync(file, '[cache]\nmaxEntrys = 5\n');
    const r = await runHoldfast(['config', 'check', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cache\.maxEntrys is an unknown key \(did you mean cache\.maxEntries\?\)/);
  });

  it('serve --config exits 2 on a wrong value, naming the key', async () => {
    const file = join(dir, 'range.toml');
    writeFileSync(file, '[upstream]\nmaxAttempts = 99\n');
    const r = await runHoldfast(['serve', '--config', file, '--upstream', 'udp://127.0.0.1:53']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /upstream\.maxAttempts must be a whole number/);
  });

  it('serve --config forwards to the upstream the file names', async () => {
    const file = join(dir, 'serve.toml');
    writeFileSync(file, `upstreams = ["udp://127.0.0.1:${upstream.port}"]\n`);
    const h = await startHoldfast(['--config', file]);
    try {
      const reply = await udpExchange(h.port, query('a.example', 'A'));
      assert.ok(reply, 'no reply');
      assert.equal((decode(reply).answers?.[0] as { data: string }).data, '192.0.2.7');
      assert.equal(upstream.count('a.example'), 1);
    } finally {
      await h.stop();
    }
  });

  it('SIGHUP: a bad file is refused with its reason and the old configuration answers; a good one changes the upstream and keeps the cache', async () => {
    const file = join(dir, 'hup.toml');
    writeFileSync(file, `upstreams = ["udp://127.0.0.1:${upstream.port}"]\n`);
    const h = await startHoldfast(['--config', file]);
    const answer = async (name: string) => {
      const reply = await udpExchange(h.port, query(name, 'A'));
      assert.ok(reply, `no reply for ${name}`);
      return (decode(reply).answers?.[0] as { data: string } | undefined)?.data;
    };
    try {
      assert.equal(await answer('hup1.example'), '192.0.2.7');
      writeFileSync(file, `upstreams = ["udp://127.0.0.1:${other.port}"]\n[cache]\nmaxEntrys = 5\n`);
      process.kill(h.pid, 'SIGHUP');
      await until(() => h.logs.some((l) => String(l.message ?? l.msg ?? JSON.stringify(l)).includes('refused')), 5000);
      const refused = h.logs.find((l) => JSON.stringify(l).includes('new configuration refused'));
      assert.ok(refused, 'no refusal logged');
      assert.match(JSON.stringify(refused), /cache\.maxEntrys is an unknown key/);
      assert.equal(await answer('hup2.example'), '192.0.2.7');
      assert.equal(other.count('hup2.example'), 0);

      writeFileSync(file, `upstreams = ["udp://127.0.0.1:${other.port}"]\n`);
      process.kill(h.pid, 'SIGHUP');
      await until(() => h.logs.some((l) => JSON.stringify(l).includes('configuration reloaded')), 5000);
      assert.equal(await answer('hup3.example'), '192.0.2.8');
      // The cache survived: hup1 comes from it, not from either upstream.
      assert.equal(await answer('hup1.example'), '192.0.2.7');
      assert.equal(upstream.count('hup1.example'), 1);
      assert.equal(other.count('hup1.example'), 0);
    } finally {
      await h.stop();
    }
  });
});
