// shellcheck -s sh over what runs on the router: the init and hotplug scripts and the package's maintainer
// scripts (the Makefile's postinst and prerm, and the wrappers build/package.mjs writes).
// OpenWrt's shell is busybox ash: POSIX sh plus `local`, which the scripts declare.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { controlTar, parseMakefile } from '../../build/package.mjs';
import { INIT, REPO } from './router.ts';

const installed = spawnSync('shellcheck', ['--version']).status === 0;
const work = mkdtempSync(join(tmpdir(), 'holdfast-shellcheck-'));
after(() => rmSync(work, { recursive: true, force: true }));

function shellcheck(file: string): void {
  const r = spawnSync('shellcheck', ['-s', 'sh', '-x', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${file}:\n${r.stdout}${r.stderr}`);
}

describe('#10 - shellcheck on the OpenWrt scripts', { skip: installed ? false : 'shellcheck is not installed (.ci/run installs it)' }, () => {
  it('passes the init script', () => shellcheck(INIT));

  it('#12 - passes the hotplug script', () => shellcheck(join(REPO, 'packaging/openwrt/files/holdfast.hotplug')));

  it("passes the package's postinst and prerm", () => {
    const pkg = parseMakefile(readFileSync(join(REPO, 'packaging/openwrt/Makefile'), 'utf8'));
    assert.ok(pkg.postinst && pkg.prerm);
    for (const [name, text] of [['postinst-pkg', pkg.postinst], ['prerm-pkg', pkg.prerm]]) {
      writeFileSync(join(work, name), text);
      shellcheck(join(work, name));
    }
    // The wrappers opkg runs, as build/package.mjs puts them in control.tar.gz.
    const tarFile = join(work, 'control.tar');
    writeFileSync(tarFile, controlTar(pkg, 'x86_64', 0, 0));
    const x = spawnSync('tar', ['-xf', tarFile, '-C', work]);
    assert.equal(x.status, 0);
    shellcheck(join(work, 'postinst'));
    shellcheck(join(work, 'prerm'));
  });
});
