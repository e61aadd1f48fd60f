// The ipk files `npm run package` writes (build/package.mjs), unpacked with the system's tar and
// gzip as opkg would read them: every file, its mode and owner, every control field. Small
// stand-in executables take the place of the 100 MB musl builds, through the same code path.
// Then the package's own maintainer scripts run on the stand-in router (router.ts): install
// enables and starts Holdfast, removal leaves /etc/config/dhcp as it found it.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildPackages, parseMakefile } from '../../build/package.mjs';
import { createRouter, REPO, STOCK_DHCP } from './router.ts';

const work = mkdtempSync(join(tmpdir(), 'holdfast-ipk-'));
after(() => rmSync(work, { recursive: true, force: true }));
const version = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version;
const exe = { 'linux-x64-musl': join(work, 'x64'), 'linux-arm64-musl': join(work, 'arm64') };
const ARCHES = { x86_64: 'x64', aarch64_generic: 'arm64', 'aarch64_cortex-a53': 'arm64' } as const;

function sh(cmd: string, args: string[], cwd = work): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8' });
}

/** `tar -tvzf` lines as { mode, owner, name }. */
function listing(file: string): Array<{ mode: string; owner: string; name: string }> {
  return sh('tar', ['--numeric-owner', '-tvzf', file])
    .trimEnd()
    .split('\n')
    .map((l) => {
      const f = l.split(/\s+/);
      return { mode: f[0], owner: f[1], name: f.at(-1)! };
    });
}

function unpack(ipk: string): string {
  const dir = mkdtempSync(join(work, 'unpacked-'));
  sh('tar', ['-xzf', ipk, '-C', dir]);
  mkdirSync(join(dir, 'control'));
  mkdirSync(join(dir, 'data'));
  sh('tar', ['-xzf', join(dir, 'control.tar.gz'), '-C', join(dir, 'control')]);
  sh('tar', ['-xzf', join(dir, 'data.tar.gz'), '-C', join(dir, 'data')]);
  return dir;
}

let built: Array<{ arch: string; path: string }> = [];
before(async () => {
  writeFileSync(exe['linux-x64-musl'], 'stand-in x64 executable\n');
  writeFileSync(exe['linux-arm64-musl'], 'stand-in arm64 executable\n');
  built = await buildPackages({ outDir: join(work, 'packages'), executables: exe, log: () => {} });
});

describe('#10 - npm run package: OpenWrt ipk files', () => {
  it('writes holdfast_<version>-r1_<arch>.ipk for x86_64, aarch64_generic and aarch64_cortex-a53', () => {
    assert.deepEqual(built.map((b) => b.path.split('/').at(-1)), Object.keys(ARCHES).map((a) => `holdfast_${version}-r1_${a}.ipk`));
  });

  for (const [arch, exeArch] of Object.entries(ARCHES)) {
    it(`${arch}: a gzipped tar of debian-binary, data.tar.gz and control.tar.gz, as ipkg-build writes and opkg reads`, () => {
      const ipk = built.find((b) => b.arch === arch)!.path;
      assert.deepEqual([...readFileSync(ipk).subarray(0, 2)], [0x1f, 0x8b]);
      assert.deepEqual(listing(ipk).map((e) => [e.mode, e.owner, e.name]), [
        ['-rw-r--r--', '0/0', './debian-binary'],
        ['-rw-r--r--', '0/0', './data.tar.gz'],
        ['-rw-r--r--', '0/0', './control.tar.gz'],
      ]);
      const dir = unpack(ipk);
      assert.equal(readFileSync(join(dir, 'debian-binary'), 'utf8'), '2.0\n');
    });

    it(`${arch}: every file of data.tar.gz with its mode, owned by root`, () => {
      const dir = unpack(built.find((b) => b.arch === arch)!.path);
      assert.deepEqual(listing(join(dir, 'data.tar.gz')).map((e) => `${e.mode} ${e.owner} ${e.name}`), [
        'drwxr-xr-x 0/0 ./',
        'drwxr-xr-x 0/0 ./etc/',
        'drwxr-xr-x 0/0 ./etc/capabilities/',
        '-rw-r--r-- 0/0 ./etc/capabilities/holdfast.json',
        'drwxr-xr-x 0/0 ./etc/config/',
        '-rw------- 0/0 ./etc/config/holdfast',
        'drwxr-xr-x 0/0 ./etc/hotplug.d/',
        'drwxr-xr-x 0/0 ./etc/hotplug.d/iface/',
        '-rw-r--r-- 0/0 ./etc/hotplug.d/iface/50-holdfast',
        'drwxr-xr-x 0/0 ./etc/init.d/',
        '-rwxr-xr-x 0/0 ./etc/init.d/holdfast',
        'drwxr-xr-x 0/0 ./lib/',
        'drwxr-xr-x 0/0 ./lib/upgrade/',
        'drwxr-xr-x 0/0 ./lib/upgrade/keep.d/',
        '-rw-r--r-- 0/0 ./lib/upgrade/keep.d/holdfast',
        'drwxr-xr-x 0/0 ./usr/',
        'drwxr-xr-x 0/0 ./usr/bin/',
        '-rwxr-xr-x 0/0 ./usr/bin/holdfast',
      ]);
      const data = (p: string) => readFileSync(join(dir, 'data', p), 'utf8');
      assert.equal(data('usr/bin/holdfast'), `stand-in ${exeArch} executable\n`);
      assert.equal(data('etc/init.d/holdfast'), readFileSync(join(REPO, 'packaging/openwrt/files/holdfast.init'), 'utf8'));
      assert.equal(data('etc/config/holdfast'), readFileSync(join(REPO, 'packaging/openwrt/files/holdfast.config'), 'utf8'));
      assert.deepEqual(JSON.parse(data('etc/capabilities/holdfast.json')).effective, ['CAP_NET_BIND_SERVICE']);
      // The cache and the dnsmasq record survive sysupgrade, as /etc/config/dhcp does.
      const keep = data('lib/upgrade/keep.d/holdfast').trim().split('\n');
      assert.ok(keep.includes('/etc/holdfast/cache/snapshot'));
      assert.ok(keep.includes('/etc/holdfast/dnsmasq.state'));
      // #14: the last copies of URL block lists, so a router upgraded with the WAN down still blocks.
      assert.ok(keep.includes('/etc/holdfast/lists/'));
      assert.match(data('etc/config/holdfast'), /option cache_file '\/etc\/holdfast\/cache\/snapshot'/);
    });

    it(`${arch}: control.tar.gz with every field, Installed-Size the size of the unpacked data.tar`, () => {
      const dir = unpack(built.find((b) => b.arch === arch)!.path);
      assert.deepEqual(listing(join(dir, 'control.tar.gz')).map((e) => `${e.mode} ${e.owner} ${e.name}`), [
        'drwxr-xr-x 0/0 ./',
        '-rw-r--r-- 0/0 ./conffiles',
        '-rw-r--r-- 0/0 ./control',
        '-rwxr-xr-x 0/0 ./postinst',
        '-rwxr-xr-x 0/0 ./postinst-pkg',
        '-rwxr-xr-x 0/0 ./prerm',
        '-rwxr-xr-x 0/0 ./prerm-pkg',
      ]);
      const dataTarBytes = execFileSync('gzip', ['-dc', join(dir, 'data.tar.gz')]).length;
      const control = readFileSync(join(dir, 'control/control'), 'utf8');
      const fields = Object.fromEntries(control.split('\n').filter((l) => /^\S/.test(l)).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
      assert.deepEqual(Object.keys(fields), ['Package', 'Version', 'Depends', 'License', 'Section', 'Require-User', 'URL', 'Maintainer', 'Architecture', 'Installed-Size', 'Description']);
      assert.equal(fields.Package, 'holdfast');
      assert.equal(fields.Version, `${version}-r1`);
      assert.equal(fields.Depends, 'libc, libstdcpp, ca-bundle');
      assert.equal(fields.License, 'MIT');
      assert.equal(fields.Section, 'net');
      assert.equal(fields['Require-User'], 'holdfast=5333:holdfast=5333');
      assert.match(fields.Maintainer, /^.+ <.+@.+>$/);
      assert.equal(fields.Architecture, arch);
      assert.equal(Number(fields['Installed-Size']), dataTarBytes);
      assert.match(control, /^Description: .+\n( .+\n)+$/m);
      assert.equal(readFileSync(join(dir, 'control/conffiles'), 'utf8'), '/etc/config/holdfast\n');
      assert.match(readFileSync(join(dir, 'control/postinst'), 'utf8'), /default_postinst "\$0" "\$@"/);
      assert.match(readFileSync(join(dir, 'control/prerm'), 'utf8'), /default_prerm "\$0" "\$@"/);
    });
  }

  it('builds the same bytes twice (fixed mtimes and owners, no gzip timestamp)', async () => {
    const again = await buildPackages({ outDir: join(work, 'again'), executables: exe, log: () => {} });
    for (const b of again) assert.ok(readFileSync(b.path).equals(readFileSync(built.find((x) => x.arch === b.arch)!.path)), b.arch);
  });

  it("the Makefile's PKG_VERSION is package.json's version (build/package.mjs refuses a mismatch)", () => {
    const pkg = parseMakefile(readFileSync(join(REPO, 'packaging/openwrt/Makefile'), 'utf8'));
    assert.equal(pkg.version, version);
  });

  it("install adds the user, enables and starts Holdfast; removal (the package's prerm) leaves dnsmasq's config byte-identical", () => {
    const dir = unpack(built.find((b) => b.arch === 'x86_64')!.path);
    const r = createRouter();
    try {
      // What opkg does: the files (the harness keeps its own executable and init wrapper) and
      // the control scripts under /usr/lib/opkg/info.
      copyFileSync(join(dir, 'data/etc/init.d/holdfast'), join(r.root, 'lib/holdfast/holdfast'));
      mkdirSync(join(r.root, 'usr/lib/opkg/info'), { recursive: true });
      for (const s of ['postinst-pkg', 'prerm-pkg']) copyFileSync(join(dir, 'control', s), join(r.root, `usr/lib/opkg/info/holdfast.${s}`));
      r.write('etc/passwd', 'root:x:0:0:root:/root:/bin/ash\n');
      r.write('etc/group', 'root:x:0:\n');

      const inst = r.sh('default_postinst');
      assert.equal(inst.code, 0, inst.output);
      assert.match(r.read('etc/passwd'), /^holdfast:x:5333:5333:/m);
      assert.ok(r.exists('etc/rc.d/S19holdfast'));
      assert.ok(r.exists('etc/holdfast/cache'));
      assert.ok(r.exists('etc/holdfast/lists'), '#14: the folder URL block lists are kept in');
      assert.equal(r.uci('get', 'dhcp.@dnsmasq[0].server').trim(), '127.0.0.1#5333');

      const rm = r.sh('default_prerm');
      assert.equal(rm.code, 0, rm.output);
      assert.equal(r.read('etc/config/dhcp'), STOCK_DHCP);
      assert.equal(r.exists('etc/rc.d/S19holdfast'), false);
      assert.equal(r.exists('var/etc/holdfast'), false);
      assert.equal(r.exists('etc/holdfast/dnsmasq.state'), false);
    } finally {
      r.remove();
    }
  });
});
