// The file-system adapter of the runtime running this file (node, deno or bun), on real files
// in a temporary folder: atomic replacement, what a failed write leaves, and renaming aside.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as bunFs from '../../src/adapters/bun/fs.ts';
import * as denoFs from '../../src/adapters/deno/fs.ts';
import * as nodeFs from '../../src/adapters/node/fs.ts';
import { folderOf, isTempNameOf, tempPathFor } from '../../src/adapters/shared/paths.ts';
import type { FileSystem } from '../../src/core/ports.ts';
import { crc32Update } from '../../src/services/snapshot/crc32.ts';
import { runtimeName } from '../helpers/runtime.ts';

const fs: FileSystem = runtimeName === 'deno' ? denoFs : runtimeName === 'bun' ? bunFs : nodeFs;

const bytesOf = (text: string) => new TextEncoder().encode(text);
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);
/** Temporary files of `p` in its folder (there should be none once a write is over). */
const tempsOf = (p: string) => readdirSync(folderOf(p)).filter((n) => isTempNameOf(p, n));
const modeOf = (p: string) => statSync(p).mode & 0o777;

describe(`fs adapter (${runtimeName})`, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'holdfast-fs-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('#11 - gives the CRC-32 the snapshot format uses, continuing an earlier sum, where the runtime has one', { skip: !fs.crc32 && 'no native CRC-32 here' }, () => {
    const bytes = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 2_654_435_761) >>> 24);
    for (const cut of [0, 1, 7, 65_536, 100_003]) {
      const sum = fs.crc32!(bytes.subarray(cut), fs.crc32!(bytes.subarray(0, cut), 0));
      assert.equal(sum, crc32Update(0, bytes), `cut at ${cut}`);
    }
    assert.equal(fs.crc32!(new TextEncoder().encode('123456789'), 0), 0xcbf43926, 'the check value of CRC-32/ISO-HDLC');
  });

  it('reads bytes and text, and null for a missing file', async () => {
    const p = join(dir, 'read.bin');
    writeFileSync(p, Uint8Array.from([0, 1, 2, 255]));
    assert.deepEqual([...(await fs.readBytes(p))!], [0, 1, 2, 255]);
    writeFileSync(join(dir, 'read.txt'), 'nameserver 192.0.2.1\n');
    assert.equal(await fs.readText(join(dir, 'read.txt')), 'nameserver 192.0.2.1\n');
    assert.equal(await fs.readBytes(join(dir, 'missing.bin')), null);
    assert.equal(await fs.readText(join(dir, 'missing.txt')), null);
  });

  it('#14 - stats a file: its size and a modification time that moves when it is rewritten; null when missing', async () => {
    const p = join(dir, 'leases');
    writeFileSync(p, 'one\n');
    const first = await fs.stat(p);
    assert.equal(first?.sizeBytes, 4);
    assert.ok(first!.mtimeMs > 0);
    utimesSync(p, new Date(first!.mtimeMs + 5000), new Date(first!.mtimeMs + 5000));
    const second = await fs.stat(p);
    assert.ok(Math.abs(second!.mtimeMs - (first!.mtimeMs + 5000)) < 1000, `mtime follows the file (${first!.mtimeMs} → ${second!.mtimeMs})`);
    assert.equal(await fs.stat(join(dir, 'missing-leases')), null);
  });

  it('rejects reading a folder rather than calling it missing', async () => {
    await assert.rejects(fs.readBytes(dir));
  });

  it('writes a new file and replaces an old one, leaving no temporary file', async () => {
    const p = join(dir, 'cache.snap');
    await fs.writeFileAtomic(p, bytesOf('first'));
    assert.equal(readFileSync(p, 'utf8'), 'first');
    await fs.writeFileAtomic(p, bytesOf('second, longer'));
    assert.equal(readFileSync(p, 'utf8'), 'second, longer');
    await fs.writeFileAtomic(p, bytesOf('3'));
    assert.equal(readFileSync(p, 'utf8'), '3');
    assert.deepEqual(tempsOf(p), []);
  });

  it('leaves the old file whole when the write fails before the rename', async () => {
    // A name as long as a file name may be: the temporary file's longer name is refused
    // (ENAMETOOLONG, even as root), so the write fails when it opens it.
    const p = join(dir, 'b'.repeat(250));
    writeFileSync(p, 'old content');
    await assert.rejects(fs.writeFileAtomic(p, bytesOf('new content')));
    assert.equal(readFileSync(p, 'utf8'), 'old content');
  });

  it('rejects, and leaves no temporary file, when the rename over the target fails', async () => {
    const p = join(dir, 'is-a-folder');
    mkdirSync(p);
    writeFileSync(join(p, 'inside'), 'x');
    await assert.rejects(fs.writeFileAtomic(p, bytesOf('bytes')));
    assert.deepEqual(tempsOf(p), []);
    assert.equal(readFileSync(join(p, 'inside'), 'utf8'), 'x');
  });

  it('rejects a write into a folder that does not exist, creating nothing', async () => {
    await assert.rejects(fs.writeFileAtomic(join(dir, 'no-such-folder', 'cache.snap'), bytesOf('x')));
    assert.equal(existsSync(join(dir, 'no-such-folder')), false);
  });

  it('is not disturbed by a partial temporary file a crash left behind', async () => {
    const p = join(dir, 'crashed.snap');
    writeFileSync(p, 'whole old file');
    writeFileSync(tempPathFor(p), 'half a wri');
    writeFileSync(tempPathFor(p), 'half another');
    assert.equal(new TextDecoder().decode((await fs.readBytes(p))!), 'whole old file');
    await fs.writeFileAtomic(p, bytesOf('whole new file'));
    assert.equal(readFileSync(p, 'utf8'), 'whole new file');
    // Each crash leaves a file under a new name: the next write clears them all.
    assert.deepEqual(tempsOf(p), []);
  });

  it('#15 - never writes through a symlink planted where the temporary file used to go', async () => {
    const p = join(dir, 'planted.snap');
    const victim = join(dir, 'victim.conf');
    writeFileSync(victim, 'root-owned settings');
    // The fixed name every earlier version used.
    symlinkSync(victim, `${p}.tmp`);
    await fs.writeFileAtomic(p, bytesOf('snapshot bytes'));
    assert.equal(readFileSync(victim, 'utf8'), 'root-owned settings');
    assert.equal(readFileSync(p, 'utf8'), 'snapshot bytes');
  });

  it('#15 - names each temporary file unpredictably', () => {
    const names = new Set(Array.from({ length: 32 }, () => tempPathFor('/var/lib/holdfast/cache.snap')));
    assert.equal(names.size, 32);
    for (const n of names) assert.ok(isTempNameOf('/var/lib/holdfast/cache.snap', n.slice('/var/lib/holdfast/'.length)), n);
    assert.equal(isTempNameOf('/var/lib/holdfast/cache.snap', 'cache.snap'), false);
    assert.equal(isTempNameOf('/var/lib/holdfast/cache.snap', 'other.snap.0123456789abcdef.tmp'), false);
  });

  it('#15 - creates the snapshot and appended files readable by their owner only', async () => {
    const p = join(dir, 'private.snap');
    await fs.writeFileAtomic(p, bytesOf('clients asked for these names'));
    assert.equal(modeOf(p).toString(8), '600');
    const log = join(dir, 'queries.log');
    await fs.appendBytes(log, bytesOf('192.0.2.7 www.test A\n'));
    assert.equal(modeOf(log).toString(8), '600');
  });

  it('never lets a reader see a partly written file while a big write goes on', async () => {
    const p = join(dir, 'big.snap');
    const old = new Uint8Array(4 * 1024 * 1024).fill(0x11);
    const next = new Uint8Array(6 * 1024 * 1024).fill(0x22);
    writeFileSync(p, old);
    let done = false;
    const writing = fs.writeFileAtomic(p, next).finally(() => {
      done = true;
    });
    let reads = 0;
    // Bounded: the write finishes long before, but a hang must not hang the suite.
    while (!done && reads < 10_000) {
      const seen = (await fs.readBytes(p))!;
      reads++;
      assert.ok(same(seen, old) || same(seen, next), `read ${reads}: ${seen.length} bytes, neither the old file nor the new`);
    }
    await writing;
    assert.ok(same((await fs.readBytes(p))!, next));
  });

  it('renames a file aside, and rejects renaming a missing one', async () => {
    const p = join(dir, 'bad.snap');
    writeFileSync(p, 'garbage');
    await fs.rename(p, `${p}.bad-20261122T071859Z`);
    assert.equal(existsSync(p), false);
    assert.equal(readFileSync(`${p}.bad-20261122T071859Z`, 'utf8'), 'garbage');
    await assert.rejects(fs.rename(join(dir, 'never-there'), join(dir, 'elsewhere')));
    assert.ok(readdirSync(dir).includes('bad.snap.bad-20261122T071859Z'));
  });
});

describe('folderOf', () => {
  it('gives the folder whose entry a rename changes', () => {
    assert.equal(folderOf('/var/lib/holdfast/cache.snap'), '/var/lib/holdfast');
    assert.equal(folderOf('/cache.snap'), '/');
    assert.equal(folderOf('cache.snap'), '.');
    assert.equal(folderOf('state/cache.snap'), 'state');
  });
});
