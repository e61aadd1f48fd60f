// `local` in the allow list (the default) against real interfaces: two network namespaces
// joined by a veth pair, Holdfast and NSD in one, the client (dig) in the other. The link
// carries documentation prefixes that are not private (2001:db8:77::/64, 198.51.100.0/24), as
// a router's LAN carries the ISP's global prefix. Needs root and iproute2; skipped otherwise.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import process from 'node:process';
import { runTool } from '../helpers/dns-client.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';
import { holdfastArgv } from '../helpers/runtime.ts';
import { until } from '../helpers/until.ts';

/** Ours alone: other tests on this machine use other prefixes (hfl- for the lossy-link tests). */
const PREFIX = 'hfs-';
const SERVER_NS = `${PREFIX}${process.pid}-s`;
const CLIENT_NS = `${PREFIX}${process.pid}-c`;
// Interface names have at most 15 characters: "hfs" + a pid of up to 7 digits + one letter.
const SERVER_IF = `hfs${process.pid}s`;
const CLIENT_IF = `hfs${process.pid}c`;
/** One port per server, all on the same two addresses. */
const PORTS = { byDefault: 5301, privateOnly: 5302, refreshing: 5303 } as const;

const SERVER6 = '2001:db8:77::1';
const CLIENT6 = '2001:db8:77::2';
const SERVER4 = '198.51.100.1';
const CLIENT4 = '198.51.100.2';
/** The prefix the "ISP" delegates later: the client has an address in it from the start. */
const RENUMBERED_SERVER6 = '2001:db8:78::1';
const RENUMBERED_CLIENT6 = '2001:db8:78::2';

function whyNot(): string | null {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root to create network namespaces';
  const ip = spawnSync('ip', ['-V'], { stdio: 'ignore' });
  if (ip.error || ip.status !== 0) return 'needs the ip command (iproute2)';
  if (spawnSync('nsd', ['-v'], { stdio: 'ignore' }).error) return 'needs nsd';
  if (spawnSync('dig', ['-v'], { stdio: 'ignore' }).error) return 'needs dig';
  return null;
}
const skip = whyNot();

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Under `ns`: a command line that runs there (ip netns exec execs it, so PIDs stay true). */
const inNs = (ns: string) => ['ip', 'netns', 'exec', ns];

/** Namespaces left by an earlier run of this file whose process is gone (killed mid-test). */
function removeStaleNamespaces(): void {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of listed.split('\n')) {
    const m = new RegExp(`^(${PREFIX}(\\d+)-[sc])\\b`).exec(line);
    if (!m || Number(m[2]) === process.pid) continue;
    let alive = true;
    try {
      process.kill(Number(m[2]), 0);
    } catch {
      alive = false;
    }
    if (!alive) spawnSync('ip', ['netns', 'del', m[1]], { stdio: 'ignore' });
  }
}

function setUpNamespaces(): void {
  ip('netns', 'add', SERVER_NS);
  ip('netns', 'add', CLIENT_NS);
  ip('link', 'add', SERVER_IF, 'netns', SERVER_NS, 'type', 'veth', 'peer', 'name', CLIENT_IF, 'netns', CLIENT_NS);
  for (const [ns, dev, a6, a4] of [
    [SERVER_NS, SERVER_IF, SERVER6, SERVER4],
    [CLIENT_NS, CLIENT_IF, CLIENT6, CLIENT4],
  ]) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    // nodad: usable at once, instead of after a second of duplicate address detection.
    ip('-n', ns, 'addr', 'add', `${a6}/64`, 'dev', dev, 'nodad');
    ip('-n', ns, 'addr', 'add', `${a4}/24`, 'dev', dev);
    ip('-n', ns, 'link', 'set', dev, 'up');
  }
  // The client also holds an address in the prefix the server is given later. Until then the
  // server reaches it through a host route, which is not an interface's subnet.
  ip('-n', CLIENT_NS, 'addr', 'add', `${RENUMBERED_CLIENT6}/64`, 'dev', CLIENT_IF, 'nodad');
  ip('-n', SERVER_NS, 'route', 'add', `${RENUMBERED_CLIENT6}/128`, 'dev', SERVER_IF);
}

function tearDownNamespaces(): void {
  // Deleting a namespace deletes the veth end inside it, and with it the pair.
  for (const ns of [SERVER_NS, CLIENT_NS]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}

/** dig from the client namespace, from `source`, to Holdfast at `server`: the status, or "timeout". */
async function ask(server: string, port: number, source: string, name: string): Promise<string> {
  const [cmd, ...pre] = inNs(CLIENT_NS);
  const r = await runTool(cmd, [...pre, 'dig', `@${server}`, '-p', String(port), '-b', source, '+tries=1', '+time=2', name, 'A'], 10_000);
  const status = /status: (\w+)/.exec(r.stdout)?.[1];
  if (status === 'NOERROR') assert.match(r.stdout, new RegExp(`${name.replace(/\./g, '\\.')}\\.\\s+\\d+\\s+IN\\s+A\\s+192\\.0\\.2\\.80`), r.stdout);
  return status ?? 'timeout';
}

function startInServerNs(port: number, args: string[], nsd: Nsd): Promise<HoldfastProcess> {
  return startHoldfast(
    ['--listen', `[${SERVER6}]:${port}`, '--listen', `${SERVER4}:${port}`, '--upstream', `udp://127.0.0.1:${nsd.port}`, ...args],
    { argv: [...inNs(SERVER_NS), ...holdfastArgv()] },
  );
}

// The reason is in the name too: not every runner prints a skip's reason.
describe(`local subnets: clients on the interfaces' own prefixes (real namespaces)${skip ? `, skipped: ${skip}` : ''}`, { skip: skip ?? false }, () => {
  let nsd: Nsd | undefined;
  let byDefault: HoldfastProcess | undefined;
  let privateOnly: HoldfastProcess | undefined;
  let refreshing: HoldfastProcess | undefined;

  async function stopAll(): Promise<void> {
    // Each by its PID (stop() signals the child it started); the namespaces go last.
    await Promise.all([byDefault?.stop(), privateOnly?.stop(), refreshing?.stop()]);
    await nsd?.stop();
    tearDownNamespaces();
  }

  before(async () => {
    removeStaleNamespaces();
    try {
      setUpNamespaces();
      nsd = await startNsd([{ name: 'subnet.test', records: '* IN A 192.0.2.80' }], { port: 5300, exec: inNs(SERVER_NS) });
      // One at a time, so a failure leaves no process unknown to stopAll().
      byDefault = await startInServerNs(PORTS.byDefault, [], nsd);
      privateOnly = await startInServerNs(PORTS.privateOnly, ['--allow', 'private'], nsd);
      refreshing = await startInServerNs(PORTS.refreshing, ['--local-refresh', '1'], nsd);
    } catch (e) {
      await stopAll();
      throw e;
    }
  });
  after(stopAll);

  it('answers a client with a global IPv6 address on the same link by default', async () => {
    assert.equal(await ask(SERVER6, PORTS.byDefault, CLIENT6, 'gua.subnet.test'), 'NOERROR');
  });

  it('answers a client with a public IPv4 address on the same link by default', async () => {
    assert.equal(await ask(SERVER4, PORTS.byDefault, CLIENT4, 'v4.subnet.test'), 'NOERROR');
  });

  it('refuses both with --allow private alone', async () => {
    assert.equal(await ask(SERVER6, PORTS.privateOnly, CLIENT6, 'gua-private.subnet.test'), 'REFUSED');
    assert.equal(await ask(SERVER4, PORTS.privateOnly, CLIENT4, 'v4-private.subnet.test'), 'REFUSED');
  });

  it('says at start-up which subnets it answers', async () => {
    const answering = (p: HoldfastProcess) => p.logs.find((l) => String(l.msg).startsWith('answering clients'));
    // Logged just after the listeners, which startHoldfast waited for.
    await until(() => answering(byDefault!) !== undefined && answering(privateOnly!) !== undefined);
    const line = answering(byDefault!);
    assert.ok(line, JSON.stringify(byDefault!.logs));
    const subnets = line.localSubnets as string[];
    for (const s of ['198.51.100.0/24', '2001:db8:77::/64', '127.0.0.0/8']) assert.ok(subnets.includes(s), `${s} in ${subnets}`);
    assert.ok(!subnets.includes('2001:db8:78::/64'), 'a host route is not a subnet');
    assert.match(String(line.msg), /local subnets \(127\.0\.0\.0\/8, 198\.51\.100\.0\/24, .*2001:db8:77::\/64/);
    const none = answering(privateOnly!);
    assert.ok(none && !('localSubnets' in none) && !String(none.msg).includes('local subnets'), JSON.stringify(none));
  });

  it('follows a prefix given to the interface while running, and one taken away', async () => {
    // The route works (REFUSED comes back), but the prefix is not the server's yet.
    assert.equal(await ask(SERVER6, PORTS.refreshing, RENUMBERED_CLIENT6, 'before.subnet.test'), 'REFUSED');
    ip('-n', SERVER_NS, 'addr', 'add', `${RENUMBERED_SERVER6}/64`, 'dev', SERVER_IF, 'nodad');
    // Read again every second: poll, bounded in count and time.
    let status = '';
    for (let i = 0; i < 40 && status !== 'NOERROR'; i++) {
      status = await ask(SERVER6, PORTS.refreshing, RENUMBERED_CLIENT6, `after-${i}.subnet.test`);
      if (status !== 'NOERROR') await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(status, 'NOERROR', 'answered once the interface holds the prefix');
    const changed = refreshing!.logs.find((l) => Array.isArray(l.added) && (l.added as string[]).includes('2001:db8:78::/64'));
    assert.match(String(changed?.msg), /^local subnets now .*2001:db8:78::\/64/);
    assert.ok(changed, `the change is logged: ${JSON.stringify(refreshing!.logs)}`);

    ip('-n', SERVER_NS, 'addr', 'del', `${RENUMBERED_SERVER6}/64`, 'dev', SERVER_IF);
    for (let i = 0; i < 40 && status !== 'REFUSED'; i++) {
      status = await ask(SERVER6, PORTS.refreshing, RENUMBERED_CLIENT6, `gone-${i}.subnet.test`);
      if (status !== 'REFUSED') await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(status, 'REFUSED', 'refused again once the prefix is gone');
  });
});

