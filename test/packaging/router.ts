// A directory that stands in for an OpenWrt router, for the init script and the package's
// maintainer scripts: the harness's /etc/rc.common, /lib/functions.sh, procd.sh and uci
// (openwrt-sim/), the package's own files, a stock-looking /etc/config/dhcp and the WAN's
// resolvers. Scripts run under busybox ash when it is installed (OpenWrt's shell), else sh.

import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import process from 'node:process';

export const REPO = resolve('.');
const SIM = join(REPO, 'test/packaging/openwrt-sim');
export const INIT = join(REPO, 'packaging/openwrt/files/holdfast.init');
export const UCI_CONFIG = join(REPO, 'packaging/openwrt/files/holdfast.config');

/** OpenWrt's shell where the machine has it. */
export const SHELL: string[] = spawnSync('busybox', ['sh', '-c', 'true']).status === 0 ? ['busybox', 'sh'] : ['sh'];

/** /etc/config/dhcp as a fresh OpenWrt writes it, with a comment uci would not keep. */
export const STOCK_DHCP = `# kept by hand: a comment uci drops when it rewrites the file

config dnsmasq
	option domainneeded '1'
	option localise_queries '1'
	option rebind_protection '1'
	option local '/lan/'
	option domain 'lan'
	option expandhosts '1'
	option authoritative '1'
	option readethers '1'
	option leasefile '/tmp/dhcp.leases'
	option resolvfile '/tmp/resolv.conf.d/resolv.conf.auto'
	option localservice '1'
	option ednspacket_max '1232'

config dhcp 'lan'
	option interface 'lan'
	option start '100'
	option limit '150'
	option leasetime '12h'
	option dhcpv4 'server'

config dhcp 'wan'
	option interface 'wan'
	option ignore '1'

config odhcpd 'odhcpd'
	option maindhcp '0'
	option leasefile '/tmp/hosts/odhcpd'
`;

export const WAN_RESOLV = `# Interface wan
nameserver 192.0.2.53
nameserver 127.0.0.1
# Interface wan6
nameserver 2001:db8::53
nameserver fe80::1%eth1
nameserver 192.0.2.53
`;

export interface Router {
  readonly root: string;
  /** Runs `/etc/init.d/holdfast ACTION`; returns its exit code and output. */
  init(action: string): { code: number; output: string };
  /** Runs shell code with the harness's /lib/functions.sh loaded. */
  sh(code: string, env?: Record<string, string>): { code: number; output: string };
  uci(...args: string[]): string;
  read(path: string): string;
  write(path: string, text: string): void;
  exists(path: string): boolean;
  /** procd calls and dnsmasq restarts, in order. */
  events(): string[];
  clearEvents(): void;
  remove(): void;
}

export interface RouterOptions {
  /** Lines `option KEY 'VALUE'` / `list KEY 'VALUE'` appended to the main section. */
  uci?: string;
  ujail?: boolean;
  dhcp?: string;
  resolv?: string | null;
}

export function createRouter(opts: RouterOptions = {}): Router {
  const root = mkdtempSync(join(tmpdir(), 'holdfast-router-'));
  const path = (p: string) => join(root, p);
  const write = (p: string, text: string, mode = 0o644) => {
    mkdirSync(join(path(p), '..'), { recursive: true });
    writeFileSync(path(p), text);
    chmodSync(path(p), mode);
  };
  cpSync(join(SIM, 'lib'), path('lib'), { recursive: true });
  cpSync(join(SIM, 'rc.common'), path('etc/rc.common'));
  cpSync(INIT, path('lib/holdfast/holdfast'));
  write('etc/init.d/holdfast', `#!/bin/sh\nexec ${SHELL.join(' ')} "$HF_ROOT/etc/rc.common" "$HF_ROOT/lib/holdfast/holdfast" "$@"\n`, 0o755);
  write('etc/init.d/dnsmasq', `#!/bin/sh\necho "dnsmasq $1" >>"$HF_ROOT/procd.log"\n`, 0o755);
  // `holdfast config check` is the real one (the Node bundle; npm test runs under Node, so it
  // is on PATH whichever runtime runs the tests); the rest is never run here.
  write('usr/bin/holdfast', `#!/bin/sh\nexec node "${join(REPO, 'dist/holdfast.mjs')}" "$@"\n`, 0o755);
  write('etc/passwd', 'root:x:0:0:root:/root:/bin/ash\nholdfast:x:5333:5333:holdfast:/var/run/holdfast:/bin/false\n');
  write('etc/group', 'root:x:0:\nholdfast:x:5333:\n');
  if (opts.ujail) write('sbin/ujail', '#!/bin/sh\n', 0o755);
  write('etc/config/dhcp', opts.dhcp ?? STOCK_DHCP);
  write('etc/config/holdfast', readFileSync(UCI_CONFIG, 'utf8').trimEnd() + '\n' + (opts.uci ?? ''));
  if (opts.resolv !== null) write('tmp/resolv.conf.d/resolv.conf.auto', opts.resolv ?? WAN_RESOLV);
  write('tmp/net/lan', '192.168.1.1');

  const env = { ...process.env, HF_ROOT: root, PATH: `${join(SIM, 'bin')}:${process.env.PATH}` };
  const run = (args: string[], extra: Record<string, string> = {}) => {
    const r = spawnSync(SHELL[0], [...SHELL.slice(1), ...args], { env: { ...env, ...extra }, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
  };
  return {
    root,
    init: (action) => run([path('etc/rc.common'), path('lib/holdfast/holdfast'), action]),
    sh: (code, extra) => run(['-c', `. "$HF_ROOT/lib/functions.sh"; ${code}`], extra),
    uci: (...args) => {
      const r = spawnSync(join(SIM, 'bin/uci'), args, { env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`uci ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    },
    read: (p) => readFileSync(path(p), 'utf8'),
    write: (p, text) => write(p, text),
    exists: (p) => existsSync(path(p)),
    events: () => (existsSync(path('procd.log')) ? readFileSync(path('procd.log'), 'utf8').trimEnd().split('\n') : []),
    clearEvents: () => rmSync(path('procd.log'), { force: true }),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** The value of `procd_set_param NAME ...` in the events, tab-separated, or undefined. */
export function procdParam(events: string[], name: string): string | undefined {
  const line = events.filter((e) => e.startsWith(`procd_set_param\t${name}\t`)).at(-1);
  return line?.slice(`procd_set_param\t${name}\t`.length);
}
