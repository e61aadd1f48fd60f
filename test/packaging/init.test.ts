// The procd init script (packaging/openwrt/files/holdfast.init) on a stand-in router
// (router.ts): what it asks procd for, the TOML it renders, and above all that dnsmasq's
// configuration comes back byte for byte after stop and disable.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { createRouter, procdParam, REPO, STOCK_DHCP, type Router } from './router.ts';

const routers: Router[] = [];
function router(...args: Parameters<typeof createRouter>): Router {
  const r = createRouter(...args);
  routers.push(r);
  return r;
}
after(() => routers.forEach((r) => r.remove()));

function ok(r: Router, action: string): void {
  const res = r.init(action);
  assert.equal(res.code, 0, `${action}: ${res.output}`);
}

const dnsmasqRestarts = (r: Router) => r.events().filter((e) => e === 'dnsmasq restart').length;

describe('#10 - OpenWrt init script', () => {
  it('forwards dnsmasq to Holdfast on 127.0.0.1:5333 at start, and stop leaves /etc/config/dhcp byte-identical', () => {
    const r = router();
    ok(r, 'start');
    assert.equal(r.uci('get', 'dhcp.@dnsmasq[0].server').trim(), '127.0.0.1#5333');
    assert.equal(r.uci('get', 'dhcp.@dnsmasq[0].noresolv').trim(), '1');
    assert.equal(dnsmasqRestarts(r), 1);
    assert.ok(r.exists('etc/holdfast/dnsmasq.state'));
    r.clearEvents();
    ok(r, 'stop');
    assert.equal(r.read('etc/config/dhcp'), STOCK_DHCP);
    assert.deepEqual(r.events(), ['dnsmasq restart', 'procd_kill\tholdfast']);
    assert.equal(r.exists('etc/holdfast/dnsmasq.state'), false);
  });

  it('runs Holdfast unprivileged with the rendered TOML, respawning without limit, and no capability for port 5333', () => {
    const r = router({ ujail: true });
    ok(r, 'start');
    const ev = r.events();
    assert.equal(procdParam(ev, 'command'), '/usr/bin/holdfast\tserve\t--config\t/var/etc/holdfast/holdfast.toml\t--log-level\tinfo');
    assert.equal(procdParam(ev, 'user'), 'holdfast');
    assert.equal(procdParam(ev, 'group'), 'holdfast');
    assert.equal(procdParam(ev, 'no_new_privs'), '1');
    assert.equal(procdParam(ev, 'respawn'), '3600\t5\t0');
    assert.equal(procdParam(ev, 'capabilities'), undefined);
    assert.equal(procdParam(ev, 'file'), '/var/etc/holdfast/restart.key');
    assert.ok(ev.includes('procd_add_jail\tholdfast\tlog\tprocfs'));
    assert.ok(ev.includes('procd_add_jail_mount_rw\t/etc/holdfast/cache'));
    assert.ok(ev.includes('procd_add_interface_trigger\tinterface.*\twan\t/etc/init.d/holdfast\treload'));
    assert.ok(ev.includes('procd_add_interface_trigger\tinterface.*\twan6\t/etc/init.d/holdfast\treload'));
    assert.ok(ev.includes('procd_add_reload_trigger\tholdfast'));
  });

  it('takes the upstreams from the WAN, never this router, and a flash-friendly snapshot interval', () => {
    const r = router();
    ok(r, 'start');
    const toml = r.read('var/etc/holdfast/holdfast.toml');
    assert.match(toml, /^upstreams = \["udp:\/\/192\.0\.2\.53", "udp:\/\/\[2001:db8::53\]"\]$/m);
    assert.doesNotMatch(toml, /127\.0\.0\.1"|::1/);
    assert.match(toml, /^listen = \["127\.0\.0\.1:5333"\]$/m);
    assert.match(toml, /^snapshotIntervalSeconds = 21600$/m);
    assert.match(r.read('syslog'), /upstream udp:\/\/127\.0\.0\.1 skipped/);
  });

  it('a second start (after a crash, or a reload) changes nothing and restarts no dnsmasq; stop still restores', () => {
    const r = router();
    ok(r, 'start');
    const applied = r.read('etc/config/dhcp');
    r.clearEvents();
    ok(r, 'start');
    assert.equal(r.read('etc/config/dhcp'), applied);
    assert.equal(dnsmasqRestarts(r), 0);
    ok(r, 'stop');
    assert.equal(r.read('etc/config/dhcp'), STOCK_DHCP);
  });

  it('disable restores dnsmasq and removes the boot links', () => {
    const r = router();
    ok(r, 'enable');
    assert.ok(r.exists('etc/rc.d/S19holdfast'));
    ok(r, 'start');
    ok(r, 'disable');
    assert.equal(r.read('etc/config/dhcp'), STOCK_DHCP);
    assert.equal(r.exists('etc/rc.d/S19holdfast'), false);
    assert.equal(r.exists('etc/rc.d/K89holdfast'), false);
  });

  it("keeps the owner's own dhcp edits made while running, and removes only Holdfast's lines", () => {
    const r = router();
    ok(r, 'start');
    r.uci('set', 'dhcp.lan.leasetime=24h');
    r.uci('add_list', 'dhcp.@dnsmasq[0].server=/example.lan/192.168.1.2');
    r.uci('commit', 'dhcp');
    ok(r, 'stop');
    assert.equal(r.uci('get', 'dhcp.lan.leasetime').trim(), '24h');
    assert.equal(r.uci('get', 'dhcp.@dnsmasq[0].server').trim(), '/example.lan/192.168.1.2');
    assert.throws(() => r.uci('get', 'dhcp.@dnsmasq[0].noresolv'));
  });

  it("does not record (nor undo) a setting the owner had already made: noresolv '1' stays", () => {
    const r = router({ dhcp: STOCK_DHCP.replace("option ednspacket_max '1232'", "option ednspacket_max '1232'\n\toption noresolv '1'") });
    ok(r, 'start');
    assert.doesNotMatch(r.read('etc/holdfast/dnsmasq.state'), /noresolv/);
    r.uci('set', 'dhcp.lan.leasetime=24h');
    r.uci('commit', 'dhcp');
    ok(r, 'stop');
    assert.equal(r.uci('get', 'dhcp.@dnsmasq[0].noresolv').trim(), '1');
  });

  it("replace mode: Holdfast on port 53 with CAP_NET_BIND_SERVICE only, dnsmasq port 0 and DHCP option 6; Holdfast stops before dnsmasq gets 53 back", () => {
    const r = router({ ujail: true, uci: "\toption dnsmasq 'replace'\n" });
    ok(r, 'start');
    assert.equal(r.uci('get', 'dhcp.@dnsmasq[0].port').trim(), '0');
    assert.equal(r.uci('get', 'dhcp.lan.dhcp_option').trim(), '6,192.168.1.1');
    assert.throws(() => r.uci('get', 'dhcp.wan.dhcp_option'), 'an ignored DHCP section gets nothing');
    assert.match(r.read('var/etc/holdfast/holdfast.toml'), /^listen = \["0\.0\.0\.0:53", "\[::\]:53"\]$/m);
    assert.equal(procdParam(r.events(), 'capabilities'), '/etc/capabilities/holdfast.json');
    assert.equal(procdParam(r.events(), 'user'), 'holdfast');
    r.clearEvents();
    ok(r, 'stop');
    assert.deepEqual(r.events(), ['procd_kill\tholdfast', 'dnsmasq restart', 'procd_kill\tholdfast']);
    assert.equal(r.read('etc/config/dhcp'), STOCK_DHCP);
  });

  it('replace mode without ujail runs as root (capabilities need ujail) and says so', () => {
    const r = router({ uci: "\toption dnsmasq 'replace'\n" });
    ok(r, 'start');
    assert.equal(procdParam(r.events(), 'user'), 'root');
    assert.equal(procdParam(r.events(), 'capabilities'), undefined);
    assert.match(r.read('syslog'), /no ujail/);
  });

  it("mode 'none' leaves dnsmasq alone", () => {
    const r = router({ uci: "\toption dnsmasq 'none'\n" });
    ok(r, 'start');
    assert.equal(r.read('etc/config/dhcp'), STOCK_DHCP);
    assert.equal(dnsmasqRestarts(r), 0);
    assert.ok(procdParam(r.events(), 'command'));
  });

  it('a reload after the WAN changed its resolvers sends SIGHUP (the cache stays) and renders the new upstreams', () => {
    const r = router();
    ok(r, 'start');
    r.write('tmp/resolv.conf.d/resolv.conf.auto', 'nameserver 198.51.100.1\n');
    r.clearEvents();
    ok(r, 'reload');
    assert.match(r.read('var/etc/holdfast/holdfast.toml'), /^upstreams = \["udp:\/\/198\.51\.100\.1"\]$/m);
    assert.ok(r.events().includes('procd_send_signal\tholdfast\t*\tHUP'), r.events().join('\n'));
    assert.equal(dnsmasqRestarts(r), 0);
  });

  it('a changed port is a restart (new restart key, no SIGHUP) and moves the dnsmasq server line; stop still restores', () => {
    const r = router();
    ok(r, 'start');
    const key = r.read('var/etc/holdfast/restart.key');
    r.uci('set', 'holdfast.main.port=5334');
    r.uci('commit', 'holdfast');
    r.clearEvents();
    ok(r, 'reload');
    assert.notEqual(r.read('var/etc/holdfast/restart.key'), key);
    assert.equal(r.events().some((e) => e.startsWith('procd_send_signal')), false);
    assert.equal(r.uci('get', 'dhcp.@dnsmasq[0].server').trim(), '127.0.0.1#5334');
    ok(r, 'stop');
    assert.equal(r.read('etc/config/dhcp'), STOCK_DHCP);
  });

  it('switching to none on reload restores dnsmasq', () => {
    const r = router();
    ok(r, 'start');
    r.uci('set', 'holdfast.main.dnsmasq=none');
    r.uci('commit', 'holdfast');
    ok(r, 'reload');
    assert.equal(r.read('etc/config/dhcp'), STOCK_DHCP);
  });

  it('without WAN resolvers it waits (no start, dnsmasq untouched) instead of reading resolv.conf, a loop through dnsmasq', () => {
    const r = router({ resolv: null });
    ok(r, 'start');
    assert.equal(procdParam(r.events(), 'command'), undefined);
    assert.equal(r.read('etc/config/dhcp'), STOCK_DHCP);
    assert.match(r.read('syslog'), /no upstream yet/);
  });

  it('a setting Holdfast refuses stops the start and leaves dnsmasq alone', () => {
    const r = router({ uci: "\toption rate_limit_action 'sometimes'\n" });
    r.init('start');
    assert.equal(procdParam(r.events(), 'command'), undefined);
    assert.equal(r.read('etc/config/dhcp'), STOCK_DHCP);
    assert.match(r.read('syslog'), /refused: .*rateLimit\.action/);
  });

  it('renders every UCI setting to keys `holdfast config check` accepts, with the values given', () => {
    const r = router({
      uci: [
        "\tlist upstream 'tls://9.9.9.9?pin=sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=#dns.quad9.net'",
        "\tlist upstream 'https://dns.example/dns-query'",
        "\tlist bootstrap 'udp://9.9.9.9'",
        "\toption proxy 'http://192.168.1.10:3128'",
        "\toption cache_size '16M'",
        "\toption cache_entries '50000'",
        "\toption stale_if_error '86400'",
        "\toption prefetch '60'",
        "\toption prefetch_bytes_per_hour '10M'",
        "\toption http_listen '127.0.0.1:8053'",
        "\toption http_token '12345'",
        "\tlist allow 'private'",
        "\tlist allow '2001:db8::/32'",
        "\tlist deny '192.168.1.66'",
        "\toption refuse_action 'drop'",
        "\toption rate_limit '200'",
        "\toption rate_limit_burst '400'",
        "\toption rate_limit_global '5000'",
        "\toption rate_limit_action 'refuse'",
        "\toption log_level 'warn'",
        '',
      ].join('\n'),
    });
    ok(r, 'start');
    const file = join(r.root, 'var/etc/holdfast/holdfast.toml');
    const check = spawnSync('node', [join(REPO, 'dist/holdfast.mjs'), 'config', 'check', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
    const effective = check.stdout;
    for (const line of [
      'maxBytes = 16777216',
      'maxEntries = 50000',
      'staleIfErrorSeconds = 86400',
      'queriesPerMinute = 60',
      'bytesPerHour = 10485760',
      'listen = "127.0.0.1:8053"',
      'token = "12345"',
      'allow = ["private", "2001:db8::/32"]',
      'deny = ["192.168.1.66"]',
      'refuseAction = "drop"',
      'perClientQps = 200',
      'perClientBurst = 400',
      'globalQps = 5000',
      'action = "refuse"',
      'bootstrap = ["udp://9.9.9.9"]',
      'proxy = "http://192.168.1.10:3128"',
      'file = "/etc/holdfast/cache/snapshot"',
      'snapshotIntervalSeconds = 21600',
    ]) {
      assert.ok(effective.includes(line), `${line} in\n${effective}`);
    }
    assert.match(effective, /upstreams = \["tls:\/\/9\.9\.9\.9\?pin=sha256\/47DEQ[^"]*#dns\.quad9\.net", "https:\/\/dns\.example\/dns-query"\]/);
    assert.ok(procdParam(r.events(), 'command')?.endsWith('--log-level\twarn'));
  });

  it('#12 - renders the NTP servers of /etc/config/system as ntpNames, which the bootstrap may resolve', () => {
    const r = router();
    r.write('etc/config/system', "config system\n\toption hostname 'OpenWrt'\n\nconfig timeserver 'ntp'\n\toption enabled '1'\n\tlist server '0.openwrt.pool.ntp.org'\n\tlist server '1.openwrt.pool.ntp.org'\n");
    ok(r, 'start');
    const toml = r.read('var/etc/holdfast/holdfast.toml');
    assert.match(toml, /^ntpNames = \["0\.openwrt\.pool\.ntp\.org", "1\.openwrt\.pool\.ntp\.org"\]$/m);
    // After [encryptedUpstream], and the file is still one `holdfast config check` takes.
    assert.ok(toml.indexOf('ntpNames') > toml.indexOf('[encryptedUpstream]'));
    const check = spawnSync('node', [join(REPO, 'dist/holdfast.mjs'), 'config', 'check', '--config', join(r.root, 'var/etc/holdfast/holdfast.toml')], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
  });

  it('#12 - renders no ntpNames when the system has no NTP server', () => {
    const r = router();
    ok(r, 'start');
    assert.doesNotMatch(r.read('var/etc/holdfast/holdfast.toml'), /ntpNames/);
  });
});

describe('#12 - OpenWrt hotplug script (/etc/hotplug.d/iface/50-holdfast)', () => {
  const hotplug = (r: Router, env: Record<string, string>) => {
    r.write('etc/hotplug.d/iface/50-holdfast', readFileSync(join(REPO, 'packaging/openwrt/files/holdfast.hotplug'), 'utf8'));
    // As hotplug-call runs it: sourced in a subshell.
    return r.sh('( . "$HF_ROOT/etc/hotplug.d/iface/50-holdfast" )', env);
  };
  const usr2 = (r: Router) => r.events().filter((e) => e === 'procd_send_signal\tholdfast\t*\tUSR2').length;

  it('sends SIGUSR2 through procd when a WAN interface comes up or changes', () => {
    const r = router();
    ok(r, 'start');
    r.clearEvents();
    for (const [ACTION, INTERFACE] of [['ifup', 'wan'], ['ifupdate', 'wan6']]) assert.equal(hotplug(r, { ACTION, INTERFACE }).code, 0);
    assert.equal(usr2(r), 2, r.events().join('\n'));
  });

  it('stays quiet for the LAN, for ifdown, and when Holdfast is not running', () => {
    const r = router();
    ok(r, 'start');
    r.clearEvents();
    hotplug(r, { ACTION: 'ifup', INTERFACE: 'lan' });
    hotplug(r, { ACTION: 'ifdown', INTERFACE: 'wan' });
    assert.equal(usr2(r), 0, r.events().join('\n'));
    ok(r, 'stop');
    hotplug(r, { ACTION: 'ifup', INTERFACE: 'wan' });
    assert.equal(usr2(r), 0);
  });
});

/** `holdfast config check` on the TOML the router rendered: its effective configuration. */
function checked(r: Router): string {
  const file = join(r.root, 'var/etc/holdfast/holdfast.toml');
  const check = spawnSync('node', [join(REPO, 'dist/holdfast.mjs'), 'config', 'check', file], { encoding: 'utf8' });
  assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  return check.stdout;
}

/** The effective configuration's lines of one [section]. */
function section(effective: string, name: string): string[] {
  const lines = effective.split('\n');
  const at = lines.indexOf(`[${name}]`);
  assert.ok(at >= 0, `[${name}] in\n${effective}`);
  const end = lines.findIndex((l, i) => i > at && l.startsWith('['));
  return lines.slice(at + 1, end < 0 ? undefined : end);
}

const jailMounts = (r: Router) =>
  r
    .events()
    .filter((e) => e.startsWith('procd_add_jail_mount'))
    .map((e) => e.replace('procd_add_jail_mount_rw\t', 'rw ').replace('procd_add_jail_mount\t', 'ro '));

const DNSMASQ_HOME = STOCK_DHCP.replace("option domain 'lan'", "option domain 'home'").replace(
  "option ednspacket_max '1232'",
  "option ednspacket_max '1232'\n\tlist rebind_domain '/plex.direct/'\n\tlist rebind_domain 'nas.example'",
);

describe("#14 - OpenWrt init script: local names, block lists and rebind protection", () => {
  it("replace mode answers the LAN's names from dnsmasq's and odhcpd's files, with dnsmasq's domain and rebind exemptions, mounted in the jail", () => {
    const r = router({ ujail: true, dhcp: DNSMASQ_HOME, uci: "\toption dnsmasq 'replace'\n" });
    r.write('tmp/dhcp.leases', '1900000000 00:11:22:33:44:55 192.168.1.20 laptop *\n');
    r.write('tmp/hosts/odhcpd', 'fd00::20\tlaptop.home\tlaptop\n');
    r.write('tmp/hosts/dhcp.cfg01411c', '192.168.1.10 nas\n');
    ok(r, 'start');
    const local = section(checked(r), 'local');
    assert.ok(local.includes('domain = "home"'), local.join('\n'));
    assert.ok(local.includes('dhcpLeases = ["/tmp/dhcp.leases"]'), local.join('\n'));
    assert.ok(local.includes('hosts = ["/tmp/hosts/odhcpd", "/tmp/hosts/dhcp.cfg01411c"]'), local.join('\n'));
    const rebind = section(checked(r), 'rebind');
    assert.ok(rebind.includes('protection = "on"'), rebind.join('\n'));
    assert.ok(rebind.includes('allow = ["plex.direct", "nas.example"]'), rebind.join('\n'));
    const mounts = jailMounts(r);
    for (const m of ['ro /tmp/hosts', 'ro /tmp/dhcp.leases', 'ro /etc/ssl/certs', 'rw /etc/holdfast/cache']) assert.ok(mounts.includes(m), `${m} in ${mounts.join(', ')}`);
    assert.equal(mounts.filter((m) => m === 'ro /tmp/hosts').length, 1);
  });

  it("forward mode leaves the LAN's names to dnsmasq (no lease or hosts files) and follows its rebind_protection '0'", () => {
    const r = router({ dhcp: DNSMASQ_HOME.replace("option rebind_protection '1'", "option rebind_protection '0'") });
    ok(r, 'start');
    const effective = checked(r);
    assert.ok(section(effective, 'local').includes('hosts = []'));
    assert.ok(section(effective, 'local').includes('dhcpLeases = []'));
    assert.ok(section(effective, 'local').includes('domain = "home"'));
    assert.ok(section(effective, 'rebind').includes('protection = "off"'));
  });

  it("mode 'none' takes nothing from dnsmasq: domain lan, rebind protection on, no exemptions", () => {
    const r = router({ dhcp: DNSMASQ_HOME.replace("option rebind_protection '1'", "option rebind_protection '0'"), uci: "\toption dnsmasq 'none'\n" });
    ok(r, 'start');
    const effective = checked(r);
    assert.ok(section(effective, 'local').includes('domain = "lan"'));
    assert.ok(section(effective, 'rebind').includes('protection = "on"'));
    assert.ok(section(effective, 'rebind').includes('allow = []'));
  });

  it('renders block lists, records, forward zones, rewrites and rebind settings to keys `holdfast config check` accepts; URL lists get a lists folder of the service user, writable in the jail', () => {
    const r = router({
      ujail: true,
      uci: [
        "\toption dnsmasq 'replace'",
        "\tlist block_list 'https://lists.example/hosts'",
        "\tlist block_list '/etc/holdfast/my-list.txt'",
        "\toption block_action 'nxdomain'",
        "\tlist allow_name 'cdn.example.com'",
        "\toption block_list_refresh '43200'",
        "\toption local_domain 'corp.lan'",
        "\toption local_ttl '30'",
        "\tlist hosts '/etc/holdfast/hosts'",
        "\tlist dhcp_leases '/tmp/dhcp.leases'",
        "\tlist record 'nas.corp.lan A 192.168.1.10'",
        "\tlist record 'www.corp.lan CNAME nas.corp.lan'",
        "\tlist records '/etc/holdfast/records'",
        "\tlist forward_zone 'corp.example=udp://10.8.0.1'",
        "\tlist forward_zone '168.192.in-addr.arpa=udp://192.168.1.2'",
        "\tlist rewrite 'printer.example=192.168.1.30'",
        "\toption rebind_protection '0'",
        "\tlist rebind_allow 'plex.direct'",
        '',
      ].join('\n'),
    });
    r.write('etc/holdfast/my-list.txt', 'ads.example\n');
    r.write('etc/holdfast/hosts', '192.168.1.5 pc\n');
    ok(r, 'start');
    const effective = checked(r);
    const block = section(effective, 'block');
    for (const line of [
      'lists = ["https://lists.example/hosts", "/etc/holdfast/my-list.txt"]',
      'listsDir = "/etc/holdfast/lists"',
      'action = "nxdomain"',
      'allowNames = ["cdn.example.com"]',
      'refreshSeconds = 43200',
    ])
      assert.ok(block.includes(line), `${line} in\n${block.join('\n')}`);
    const local = section(effective, 'local');
    for (const line of [
      'domain = "corp.lan"',
      'ttlSeconds = 30',
      'hosts = ["/etc/holdfast/hosts"]',
      'dhcpLeases = ["/tmp/dhcp.leases"]',
      'records = ["nas.corp.lan A 192.168.1.10", "www.corp.lan CNAME nas.corp.lan"]',
      'recordFiles = ["/etc/holdfast/records"]',
    ])
      assert.ok(local.includes(line), `${line} in\n${local.join('\n')}`);
    assert.ok(section(effective, 'forward').includes('zones = ["corp.example=udp://10.8.0.1", "168.192.in-addr.arpa=udp://192.168.1.2"]'));
    assert.ok(section(effective, 'rewrite').includes('rules = ["printer.example=192.168.1.30"]'));
    assert.ok(section(effective, 'rebind').includes('protection = "off"'));
    // The owner's exemption, and dnsmasq's (none in the stock file).
    assert.ok(section(effective, 'rebind').includes('allow = ["plex.direct"]'));
    assert.ok(r.exists('etc/holdfast/lists'));
    assert.match(r.read('chown.log'), /^holdfast:holdfast .*\/etc\/holdfast\/lists$/m);
    const mounts = jailMounts(r);
    for (const m of ['rw /etc/holdfast/lists', 'ro /etc/holdfast/my-list.txt', 'ro /etc/holdfast/hosts']) assert.ok(mounts.includes(m), `${m} in ${mounts.join(', ')}`);
    // Not there, so not mounted (ujail would refuse to start): read once it appears, after a restart.
    assert.ok(!mounts.includes('ro /etc/holdfast/records'));
  });

  it('a new file for the jail to show is a restart (the restart key changes); a new block action is a SIGHUP', () => {
    const r = router({ ujail: true });
    ok(r, 'start');
    const key = r.read('var/etc/holdfast/restart.key');
    r.uci('set', 'holdfast.main.block_action=refused');
    r.uci('commit', 'holdfast');
    r.clearEvents();
    ok(r, 'reload');
    assert.equal(r.read('var/etc/holdfast/restart.key'), key);
    assert.ok(r.events().includes('procd_send_signal\tholdfast\t*\tHUP'), r.events().join('\n'));
    r.write('etc/holdfast/hosts', '192.168.1.5 pc\n');
    r.uci('add_list', 'holdfast.main.hosts=/etc/holdfast/hosts');
    r.uci('commit', 'holdfast');
    r.clearEvents();
    ok(r, 'reload');
    assert.notEqual(r.read('var/etc/holdfast/restart.key'), key);
    assert.equal(r.events().some((e) => e.startsWith('procd_send_signal')), false);
  });
});
