// The compiled Bun executables, run as a user would run them: the arm64 one under qemu-user
// (the closest this x86-64 machine gets to a router) serving a real query in front of a real
// NSD, and the x64 one natively. build/test.mjs builds both before the tests run.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dig, runTool } from '../helpers/dns-client.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';
import { VERSION } from '../../src/core/version.ts';

const ARM64 = 'dist/holdfast-linux-arm64';
const X64 = 'dist/holdfast-linux-x64';
// libc6-arm64-cross puts the arm64 glibc (and its loader) under this prefix; -L makes qemu look
// there for /lib/ld-linux-aarch64.so.1.
const QEMU = ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'];

function requireBinary(path: string): void {
  assert.ok(existsSync(path), `${path} is missing: build it with \`node build/build.mjs ${path.slice('dist/holdfast-'.length)}\``);
}

describe('the linux-arm64 executable under qemu-aarch64-static', () => {
  let nsd: Nsd;
  let hf: HoldfastProcess;
  before(async () => {
    requireBinary(ARM64);
    nsd = await startNsd([{ name: 'arm.test', records: 'router IN A 192.0.2.64\nrouter IN AAAA 2001:db8::64' }]);
    hf = await startHoldfast(
      ['--listen', '127.0.0.1:0', '--upstream', `udp://127.0.0.1:${nsd.port}`],
      // Emulation makes start-up slow (seconds), and slower still on a busy machine.
      { argv: [...QEMU, ARM64], startTimeoutMs: 60_000 },
    );
  });
  after(async () => {
    await hf?.stop();
    await nsd?.stop();
  });

  it('answers an A query from the zone NSD serves', async () => {
    // A longer dig timeout than the helper's: the first query runs cold, emulated code.
    const r = await dig(hf.port, ['router.arm.test', 'A', '+short', '+time=15']);
    assert.equal(r.stdout.trim(), '192.0.2.64', r.stderr + hf.stderr());
  });

  it('answers an AAAA query over TCP', async () => {
    const r = await dig(hf.port, ['router.arm.test', 'AAAA', '+short', '+tcp', '+time=15']);
    assert.equal(r.stdout.trim(), '2001:db8::64', r.stderr + hf.stderr());
  });

  it('stops with exit 0 on SIGTERM', async () => {
    const r = await hf.stop('SIGTERM', 20_000);
    assert.equal(r.code, 0, JSON.stringify(r) + hf.stderr());
  });
});

describe('the linux-x64 executable', () => {
  it('prints its version and the Bun runtime it carries', async () => {
    requireBinary(X64);
    const r = await runTool(X64, ['version']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith(`holdfast ${VERSION} (bun `), r.stdout);
  });
});
