// packaging/systemd/holdfast.service as systemd would read and run it: what it promises (who
// is answered, reload, ordering, hardening), `systemd-analyze verify` without a warning, and
// its own ExecStart line, with only the ports and file paths moved, run with the shipped Bun
// executable and asked over IPv4 and IPv6, then reloaded with its ExecReload line and stopped
// with its KillSignal.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dig } from '../helpers/dns-client.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { freePort } from '../helpers/ports.ts';
import { until } from '../helpers/until.ts';
import {
  executableSkipReason,
  nativeBinary,
  parseUnit,
  splitCommandLine,
  startExact,
  unitValue,
  unitValues,
  untilAnswering,
  type Started,
} from './systemd-container-harness.ts';

const UNIT_PATH = 'packaging/systemd/holdfast.service';
const CONFIG_PATH = 'packaging/systemd/holdfast.toml';
const unitText = readFileSync(UNIT_PATH, 'utf8');
const unit = parseUnit(unitText);
const execStart = splitCommandLine(unitValue(unit, 'Service', 'ExecStart'));

/** The words of a space-separated list setting, over every line that sets it. */
const listOf = (section: string, key: string) => unitValues(unit, section, key).flatMap((v) => v.split(/\s+/));

/** Every value that follows `flag` in ExecStart. */
const flagValues = (flag: string) => execStart.flatMap((w, i) => (w === flag && i + 1 < execStart.length ? [execStart[i + 1]] : []));

describe('packaging/systemd/holdfast.service', () => {
  it('#10 - answers private ranges only: --allow private is the only --allow', () => {
    assert.deepEqual(flagValues('--allow'), ['private']);
  });

  it('#10 - reads a config file, and ExecReload sends SIGHUP so the file is read again', () => {
    assert.deepEqual(flagValues('--config'), ['/etc/holdfast/holdfast.toml']);
    assert.deepEqual(splitCommandLine(unitValue(unit, 'Service', 'ExecReload')), ['/bin/kill', '-HUP', '$MAINPID']);
    // SIGUSR1 (the snapshot) is no longer the reload, so the unit must still say how to send it.
    assert.match(unitText, /SIGUSR1.*systemctl kill -s USR1 holdfast/);
  });

  it('#10 - is ordered before nss-lookup.target, and does not wait for the uplink', () => {
    assert.ok(listOf('Unit', 'Wants').includes('nss-lookup.target'));
    assert.ok(listOf('Unit', 'Before').includes('nss-lookup.target'));
    for (const key of ['After', 'Wants', 'Requires']) {
      assert.ok(!listOf('Unit', key).includes('network-online.target'), `${key}= names network-online.target`);
    }
  });

  it('#10 - keeps its hardening and adds the syscall filter, clock, kernel log, hostname and realtime protections', () => {
    const expected: Record<string, string> = {
      DynamicUser: 'yes',
      AmbientCapabilities: 'CAP_NET_BIND_SERVICE',
      CapabilityBoundingSet: 'CAP_NET_BIND_SERVICE',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictNamespaces: 'yes',
      LockPersonality: 'yes',
      StateDirectory: 'holdfast',
      SystemCallFilter: '@system-service',
      SystemCallArchitectures: 'native',
      SystemCallErrorNumber: 'EPERM',
      ProtectClock: 'yes',
      ProtectKernelLogs: 'yes',
      ProtectHostname: 'yes',
      RestrictRealtime: 'yes',
      UMask: '0077',
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(unitValue(unit, 'Service', key), value, `[Service] ${key}=`);
  });

  it('keeps the cache file in its StateDirectory', () => {
    assert.deepEqual(flagValues('--cache-file'), [`/var/lib/${unitValue(unit, 'Service', 'StateDirectory')}/cache.snap`]);
  });
});

const analyze = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
const analyzeSkip = analyze.error ? 'needs systemd-analyze (apt-get install systemd)' : false;

describe('systemd-analyze verify', { skip: analyzeSkip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'holdfast-unit-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** verify on a copy named holdfast.service, with ExecStart's binary and --config made to exist. */
  const verify = (text: string) => {
    const path = join(dir, 'holdfast.service');
    writeFileSync(path, text);
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', path], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, output: `${r.stdout}${r.stderr}`.trim() };
  };
  const installed = () => {
    writeFileSync(join(dir, 'holdfast.toml'), readFileSync(CONFIG_PATH));
    return unitText.replaceAll('/usr/local/bin/holdfast', resolve(nativeBinary())).replaceAll('/etc/holdfast/holdfast.toml', join(dir, 'holdfast.toml'));
  };

  it('#10 - passes with nothing printed: no error and no warning', () => {
    assert.deepEqual(verify(installed()), { code: 0, output: '' });
  });

  it('prints a warning (and still exits 0) for a misspelt setting, which is why the test above checks the output', () => {
    const r = verify(installed().replace('ProtectClock=yes', 'ProtectClok=yes'));
    assert.match(r.output, /Unknown key 'ProtectClok'/);
  });
});

describe('the unit\'s ExecStart line, run with the Bun executable', { skip: executableSkipReason() ?? false }, () => {
  let first: FakeUpstream;
  let second: FakeUpstream;
  let dir: string;
  let port: number;
  let hf: Started | undefined;
  const configFile = () => join(dir, 'holdfast.toml');
  /** The shipped config file, with its upstreams replaced by `upstream` (nothing else can be reached here). */
  const writeConfig = (upstream: FakeUpstream) => {
    const text = readFileSync(CONFIG_PATH, 'utf8');
    const swapped = text.replace(/^upstreams = .*$/m, `upstreams = ["${upstream.url.udp}"]`);
    assert.notEqual(swapped, text, `${CONFIG_PATH} has no upstreams line to replace`);
    writeFileSync(configFile(), swapped);
  };

  before(async () => {
    first = await startFakeUpstream({ a: '192.0.2.10' });
    second = await startFakeUpstream({ a: '192.0.2.20' });
    dir = mkdtempSync(join(tmpdir(), 'holdfast-unit-run-'));
    port = await freePort();
    writeConfig(first);
    // Only the port of each listener and the two file paths change; every other word is the unit's.
    const moved: string[] = [];
    const move = (word: string, to: string) => {
      moved.push(word);
      return to;
    };
    const argv = execStart.map((word, i) => {
      if (i === 0) return resolve(nativeBinary());
      const listen = /^(0\.0\.0\.0|\[::\]):53$/.exec(word);
      if (listen) return move(word, `${listen[1]}:${port}`);
      if (word === '/etc/holdfast/holdfast.toml') return move(word, configFile());
      if (word === '/var/lib/holdfast/cache.snap') return move(word, join(dir, 'cache.snap'));
      return word;
    });
    assert.deepEqual(moved, ['/etc/holdfast/holdfast.toml', '0.0.0.0:53', '[::]:53', '/var/lib/holdfast/cache.snap']);
    hf = startExact(argv);
    await untilAnswering(hf, port);
  });

  after(async () => {
    if (hf && !hf.exited()) await hf.stop('SIGKILL');
    await first?.close();
    await second?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('#10 - answers dig over 127.0.0.1 and over ::1, UDP and TCP', async () => {
    for (const address of ['127.0.0.1', '::1']) {
      for (const transport of ['+notcp', '+tcp']) {
        const r = await dig(port, [transport, '+short', 'www.unit.test', 'A'], address);
        assert.equal(r.stdout.trim(), '192.0.2.10', `dig @${address} ${transport}: ${r.stdout}${r.stderr}\n${hf!.output()}`);
      }
    }
  });

  it('#10 - ExecReload makes it read the config file again: the new upstream answers, the cache is kept', async () => {
    writeConfig(second);
    const reload = splitCommandLine(unitValue(unit, 'Service', 'ExecReload')).map((w) => (w === '$MAINPID' ? String(hf!.pid) : w));
    const r = spawnSync(reload[0], reload.slice(1), { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    await until(() => /SIGHUP: configuration reloaded/.test(hf!.output()), 10_000);
    assert.match(hf!.output(), /SIGHUP: configuration reloaded/);
    const fresh = await dig(port, ['+short', 'after-reload.unit.test', 'A']);
    assert.equal(fresh.stdout.trim(), '192.0.2.20', `a name never asked before goes to the new upstream\n${hf!.output()}`);
    const cached = await dig(port, ['+short', 'www.unit.test', 'A']);
    assert.equal(cached.stdout.trim(), '192.0.2.10', 'the answer cached before the reload is still served');
    assert.equal(second.count('www.unit.test'), 0);
  });

  it('stops on its KillSignal within TimeoutStopSec, exit 0, with the cache written to the state directory', async () => {
    const signal = unitValue(unit, 'Service', 'KillSignal') as NodeJS.Signals;
    const timeoutMs = Number(unitValue(unit, 'Service', 'TimeoutStopSec')) * 1000;
    const r = await hf!.stop(signal, timeoutMs);
    assert.deepEqual(r, { code: 0, signal: null }, hf!.output());
    assert.ok(existsSync(join(dir, 'cache.snap')), 'no cache snapshot written on stop');
  });
});
