import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCounters } from '../../../src/core/counters.ts';
import type { FileSystem } from '../../../src/core/ports.ts';
import type { LocalFileData } from '../../../src/pipeline/local/setup.ts';
import { createLocalFilesService, POLL_MS, type LocalFilesEvent } from '../../../src/services/local-files/service.ts';
import { createFakeTime } from '../../helpers/fake-clock.ts';

/** Files in memory whose "mtime" is a counter bumped on every write. */
function memoryFs() {
  const files = new Map<string, { text: string; mtimeMs: number }>();
  let tick = 1;
  const fs: Pick<FileSystem, 'readText' | 'stat'> = {
    readText: async (p) => files.get(p)?.text ?? null,
    stat: async (p) => {
      const f = files.get(p);
      return f ? { sizeBytes: f.text.length, mtimeMs: f.mtimeMs } : null;
    },
  };
  return { fs, write: (p: string, text: string) => files.set(p, { text, mtimeMs: tick++ }), remove: (p: string) => files.delete(p) };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
};

function setup() {
  const m = memoryFs();
  const time = createFakeTime();
  const counters = createCounters();
  const applied: LocalFileData[] = [];
  const events: LocalFilesEvent[] = [];
  const service = createLocalFilesService(
    { hosts: ['/tmp/hosts/odhcpd'], dhcpLeases: ['/tmp/dhcp.leases'], recordFiles: [] },
    m.fs,
    time,
    counters,
    (f) => applied.push(f),
    (e) => events.push(e),
  );
  const leaseNames = () => applied.at(-1)!.leases.flatMap((l) => l.leases.map((x) => x.line));
  return { m, time, counters, applied, events, service, leaseNames };
}

describe('#14 - local files service', () => {
  it('reads every file at load, counting bad lines and reporting them once with file and line', async () => {
    const s = setup();
    s.m.write('/tmp/hosts/odhcpd', 'fd00::5 phone.lan phone\nnot-an-ip x\n');
    s.m.write('/tmp/dhcp.leases', '0 aa:bb 192.168.1.5 tv *\n');
    await s.service.load();
    assert.equal(s.applied.length, 1);
    assert.equal(s.applied[0].hosts[0].entries.length, 1);
    assert.equal(s.counters.local_bad_lines, 1);
    assert.equal(s.counters.local_file_loads, 2);
    const bad = s.events.find((e) => e.kind === 'loaded' && e.bad.length > 0);
    assert.ok(bad && bad.kind === 'loaded');
    assert.equal(bad.file, '/tmp/hosts/odhcpd');
    assert.deepEqual(bad.bad.map((b) => b.line), [2]);
  });

  it('puts a changed lease file in force on the next poll, and nothing is read while files stay the same', async () => {
    const s = setup();
    s.m.write('/tmp/dhcp.leases', '0 aa:bb 192.168.1.5 tv *\n');
    await s.service.load();
    s.service.start();
    s.time.advance(POLL_MS);
    await settle();
    assert.equal(s.applied.length, 1, 'unchanged: not applied again');
    assert.equal(s.counters.local_file_loads, 1);
    s.m.write('/tmp/dhcp.leases', '0 aa:bb 192.168.1.5 tv *\n0 aa:cc 192.168.1.6 laptop *\n');
    s.time.advance(POLL_MS);
    await settle();
    assert.equal(s.applied.length, 2);
    assert.deepEqual(s.leaseNames(), [1, 2]);
    s.service.stop();
    assert.equal(s.time.pendingTimers, 0);
  });

  it('answers a missing file as empty and reads it once it appears', async () => {
    const s = setup();
    await s.service.load();
    assert.deepEqual(
      s.events.filter((e) => e.kind === 'missing').map((e) => e.kind === 'missing' && e.file),
      ['/tmp/hosts/odhcpd', '/tmp/dhcp.leases'],
    );
    s.service.start();
    s.m.write('/tmp/dhcp.leases', '0 aa:bb 192.168.1.5 tv *\n');
    s.time.advance(POLL_MS);
    await settle();
    assert.deepEqual(s.leaseNames(), [1]);
    s.m.remove('/tmp/dhcp.leases');
    s.time.advance(POLL_MS);
    await settle();
    assert.deepEqual(s.applied.at(-1)!.leases, [], 'a file that goes away takes its names with it');
    s.service.stop();
  });

  it('reads every file again on reconfigure (SIGHUP), changed or not, with the new list', async () => {
    const s = setup();
    s.m.write('/tmp/dhcp.leases', '0 aa:bb 192.168.1.5 tv *\n');
    s.m.write('/etc/hosts.local', '192.168.1.9 nas\n');
    await s.service.load();
    await s.service.reconfigure({ hosts: ['/etc/hosts.local'], dhcpLeases: ['/tmp/dhcp.leases'], recordFiles: [] });
    assert.equal(s.applied.length, 2);
    assert.equal(s.applied[1].hosts[0].file, '/etc/hosts.local');
    assert.equal(s.counters.local_file_loads, 3);
  });
});
