// `npm run package`: OpenWrt packages of the musl executables, written into dist/packages/.
//   node build/package.mjs            holdfast_<version>-r<release>_<arch>.ipk for every ARCHES entry
//
// What goes in and how comes from packaging/openwrt/Makefile (the SDK feed package), read here:
// its PKG_* variables, Package/holdfast fields, description, conffiles, postinst, prerm and the
// install section's $(INSTALL_*) lines. So the ipk built here and the one the SDK builds cannot
// drift apart, and a file added to the Makefile is in both.
//
// The format is the one OpenWrt 24.10's own scripts/ipkg-build writes and opkg reads: a gzipped
// tar holding ./debian-binary ("2.0"), ./data.tar.gz and ./control.tar.gz. (opkg also accepts
// the Debian `ar` outer archive, but every package in the 24.10 feeds is a tar.gz, so that is
// the path its opkg is exercised on.) Everything is written here with node:zlib and a small ustar
// writer: owner root:root (0:0), fixed modes and a fixed mtime (SOURCE_DATE_EPOCH, else the last
// commit's time), so two builds of one commit give the same bytes and no fakeroot is needed.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const MAKEFILE = 'packaging/openwrt/Makefile';
const OUT_DIR = 'dist/packages';

/** OpenWrt package architectures, and the executable each one installs. */
export const ARCHES = [
  { arch: 'x86_64', target: 'linux-x64-musl' },
  { arch: 'aarch64_generic', target: 'linux-arm64-musl' },
  { arch: 'aarch64_cortex-a53', target: 'linux-arm64-musl' },
];

// install(1) modes behind OpenWrt's $(INSTALL_*) (rules.mk).
const INSTALL_MODES = { INSTALL_BIN: 0o755, INSTALL_CONF: 0o600, INSTALL_DATA: 0o644 };

// ---- the Makefile -------------------------------------------------------------------------

/** The parts of the feed Makefile a package needs. */
export function parseMakefile(text) {
  const vars = {};
  const blocks = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const def = /^define\s+(\S+)\s*$/.exec(lines[i]);
    if (def) {
      const body = [];
      for (i++; i < lines.length && lines[i].trim() !== 'endef'; i++) body.push(lines[i]);
      blocks[def[1]] = body;
      continue;
    }
    const v = /^([A-Z_]+):=(.*)$/.exec(lines[i]);
    if (v) vars[v[1]] = v[2].trim();
  }
  const name = vars.PKG_NAME;
  const fields = {};
  for (const line of blocks[`Package/${name}`] ?? []) {
    const f = /^\s*([A-Z_]+):=(.*)$/.exec(line);
    if (f) fields[f[1]] = f[2].trim();
  }
  // Make's `$$` is the shell's `$` in scripts written from a define.
  const script = (part) => (blocks[`Package/${name}/${part}`] ? `${blocks[`Package/${name}/${part}`].join('\n').replaceAll('$$', '$')}\n` : null);
  const installs = [];
  for (const line of blocks[`Package/${name}/install`] ?? []) {
    const m = /^\s*\$\((INSTALL_BIN|INSTALL_CONF|INSTALL_DATA)\)\s+(\S+)\s+\$\(1\)(\/\S+)\s*$/.exec(line);
    if (m) installs.push({ mode: INSTALL_MODES[m[1]], source: m[2], path: m[3] });
    else if (/\$\(INSTALL_(?!DIR)|\$\(CP\)|\$\(LN\)/.test(line)) throw new Error(`${MAKEFILE}: install line not understood: ${line.trim()}`);
  }
  const depends = (fields.DEPENDS ?? '').split(/\s+/).filter((d) => d.startsWith('+')).map((d) => d.slice(1));
  return {
    name,
    version: vars.PKG_VERSION,
    release: vars.PKG_RELEASE,
    maintainer: vars.PKG_MAINTAINER,
    license: vars.PKG_LICENSE,
    section: fields.SECTION,
    url: fields.URL,
    userid: fields.USERID,
    // Every OpenWrt package depends on libc; the SDK adds it, so does this.
    depends: ['libc', ...depends],
    description: (blocks[`Package/${name}/description`] ?? []).map((l) => l.trim()).filter(Boolean),
    conffiles: (blocks[`Package/${name}/conffiles`] ?? []).map((l) => l.trim()).filter(Boolean),
    postinst: script('postinst'),
    prerm: script('prerm'),
    installs,
  };
}

// ---- tar and gzip -------------------------------------------------------------------------

function octal(n, width) {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** One ustar header block: 512 bytes, owner root:root. */
function tarHeader({ name, mode, size, mtime, type }) {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar: name too long for ustar: ${name}`);
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write(octal(mode, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(mtime, 12), 136);
  h.write('        ', 148); // the checksum counts its own field as spaces
  h.write(type, 156);
  h.write('ustar\x0000', 257, 'latin1');
  h.write('root', 265);
  h.write('root', 297);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

/**
 * A tar of `entries` ({ name, mode, data } for files, { name, mode, dir: true } for
 * directories), in the order given, every one with mtime `mtime`.
 */
export function tar(entries, mtime) {
  const parts = [];
  for (const e of entries) {
    const data = e.dir ? Buffer.alloc(0) : Buffer.from(e.data);
    parts.push(tarHeader({ name: e.name, mode: e.mode, size: data.length, mtime, type: e.dir ? '5' : '0' }));
    parts.push(data);
    if (data.length % 512) parts.push(Buffer.alloc(512 - (data.length % 512)));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** gzip with no name and mtime 0 in its header (node:zlib writes none), so bytes repeat. */
function gzip(buf) {
  return gzipSync(buf, { level: 9 });
}

/** Files plus every directory above them ("./", "./usr/", ...), sorted by name as `tar --sort=name`. */
function withDirectories(files) {
  const dirs = new Set(['./']);
  for (const f of files) {
    const parts = f.name.slice(2).split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(`./${parts.slice(0, i).join('/')}/`);
  }
  const all = [...[...dirs].map((name) => ({ name, mode: 0o755, dir: true })), ...files];
  return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ---- the package --------------------------------------------------------------------------

/** The control file, fields in the order OpenWrt's package-pack.mk writes them. */
export function controlText(pkg, arch, installedSize) {
  const lines = [
    `Package: ${pkg.name}`,
    `Version: ${pkg.version}-r${pkg.release}`,
    `Depends: ${pkg.depends.join(', ')}`,
    `License: ${pkg.license}`,
    `Section: ${pkg.section}`,
    `Require-User: ${pkg.userid}`,
    `URL: ${pkg.url}`,
    `Maintainer: ${pkg.maintainer}`,
    `Architecture: ${arch}`,
    `Installed-Size: ${installedSize}`,
    `Description: ${pkg.description[0]}`,
    ...pkg.description.slice(1).map((l) => ` ${l}`),
  ];
  return `${lines.join('\n')}\n`;
}

// The maintainer scripts opkg runs: OpenWrt's default_postinst / default_prerm
// (/lib/functions.sh) add the package's user, enable or disable its init script, start or stop
// it, and run the package's own part, kept beside them as postinst-pkg and prerm-pkg.
const POSTINST = `#!/bin/sh
[ "\${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s "\${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0
# shellcheck disable=SC1091 # the router's
. "\${IPKG_INSTROOT}/lib/functions.sh"
default_postinst "$0" "$@"
`;
const PRERM = `#!/bin/sh
[ -s "\${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0
# shellcheck disable=SC1091 # the router's
. "\${IPKG_INSTROOT}/lib/functions.sh"
default_prerm "$0" "$@"
`;

/** The data.tar of one package: the files the Makefile installs, read from the repository. */
export async function dataTar(pkg, executable, mtime) {
  const files = [];
  for (const i of pkg.installs) {
    const source = i.source === '$(PKG_BUILD_DIR)/holdfast' ? executable : join('packaging/openwrt', i.source);
    files.push({ name: `.${i.path}`, mode: i.mode, data: await readFile(source) });
  }
  return tar(withDirectories(files), mtime);
}

export function controlTar(pkg, arch, installedSize, mtime) {
  const files = [
    { name: './control', mode: 0o644, data: controlText(pkg, arch, installedSize) },
    { name: './conffiles', mode: 0o644, data: `${pkg.conffiles.join('\n')}\n` },
    { name: './postinst', mode: 0o755, data: POSTINST },
    { name: './prerm', mode: 0o755, data: PRERM },
  ];
  if (pkg.postinst) files.push({ name: './postinst-pkg', mode: 0o755, data: pkg.postinst });
  if (pkg.prerm) files.push({ name: './prerm-pkg', mode: 0o755, data: pkg.prerm });
  return tar(withDirectories(files), mtime);
}

/** The ipk's bytes, from an uncompressed data.tar (shared by the two arm64 packages). */
export function ipk(pkg, arch, data, dataGz, mtime) {
  // Installed-Size as ipkg-build counts it: the bytes of the uncompressed data.tar.
  const control = gzip(controlTar(pkg, arch, data.length, mtime));
  return gzip(tar([
    { name: './debian-binary', mode: 0o644, data: '2.0\n' },
    { name: './data.tar.gz', mode: 0o644, data: dataGz },
    { name: './control.tar.gz', mode: 0o644, data: control },
  ], mtime));
}

export function ipkName(pkg, arch) {
  return `${pkg.name}_${pkg.version}-r${pkg.release}_${arch}.ipk`;
}

function sourceDateEpoch() {
  if (process.env.SOURCE_DATE_EPOCH) return Number(process.env.SOURCE_DATE_EPOCH);
  try {
    return Number(execFileSync('git', ['log', '-1', '--format=%ct'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) || 0;
  } catch {
    return 0;
  }
}

export async function readPackage() {
  const pkg = parseMakefile(await readFile(MAKEFILE, 'utf8'));
  const { version } = JSON.parse(await readFile('package.json', 'utf8'));
  if (pkg.version !== version) throw new Error(`package: ${MAKEFILE} has PKG_VERSION ${pkg.version}, package.json ${version}; make them equal`);
  return pkg;
}

/**
 * Builds every package into `outDir`, the executables first when older than the sources.
 * Resolves to [{ arch, path, bytes }].
 * @param {{ outDir?: string, executables?: Record<string, string> | null, log?: (line: string) => void }} [options]
 */
export async function buildPackages({ outDir = OUT_DIR, executables = null, log = (line) => process.stdout.write(`${line}\n`) } = {}) {
  const pkg = await readPackage();
  // `executables` ({ target: path }) stands in for the build: test/packaging/ packs a small file.
  let built = executables && Object.entries(executables).map(([name, path]) => ({ name, path, status: 'fresh' }));
  if (!built) {
    // Imported here, not at the top: a test that bundles this file (the Node leg of npm test)
    // must not carry build.mjs's command-line entry, which would run as the test file's own.
    const { buildTargets } = await import('./build.mjs');
    const targets = [...new Set(ARCHES.map((a) => a.target))];
    built = await buildTargets(targets, { ifStale: true, log });
    const failed = built.filter((b) => b.status !== 'built' && b.status !== 'fresh');
    if (failed.length) throw new Error(`package: could not build ${failed.map((b) => b.name).join(', ')}`);
  }
  const mtime = sourceDateEpoch();
  await mkdir(outDir, { recursive: true });
  const results = [];
  const dataByTarget = new Map();
  for (const { arch, target } of ARCHES) {
    if (!dataByTarget.has(target)) {
      const data = await dataTar(pkg, built.find((b) => b.name === target).path, mtime);
      dataByTarget.set(target, { data, gz: gzip(data) });
    }
    const { data, gz } = dataByTarget.get(target);
    const bytes = ipk(pkg, arch, data, gz, mtime);
    const path = join(outDir, ipkName(pkg, arch));
    // Whole or not at all: a release job never uploads half a file.
    await writeFile(`${path}.tmp`, bytes);
    await rename(`${path}.tmp`, path);
    results.push({ arch, path, bytes: bytes.length });
    log(`package ${path} (${(bytes.length / 1024 / 1024).toFixed(1)} MiB)`);
  }
  return results;
}

// Run as a command only, and only as this file: bundled into a test, import.meta.url is the test's.
if (import.meta.url === pathToFileURL(process.argv[1]).href && import.meta.url.endsWith('/build/package.mjs')) {
  try {
    await buildPackages();
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
