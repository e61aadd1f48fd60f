// Forward zones, rewrites and rebind protection on the shipped executable, asked with dig and
// kdig: a real NSD serves the forward zones (a company domain and the router's reverse zone),
// a fake main upstream counts what reaches it (forward-zone names must never), and a SIGHUP
// with a changed forward zone moves names between them.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dig, kdig } from '../helpers/dns-client.ts';
import { plans, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { runHoldfast, startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';
import type { Answer } from '../helpers/packets.ts';
import { until } from '../helpers/until.ts';

const PROMTOOL = (process.env.PATH ?? '').split(':').map((d) => `${d}/promtool`).find((p) => existsSync(p)) ?? null;

async function ask(port: number, args: string[]): Promise<{ status: string; answers: string[] }> {
  const r = await dig(port, ['+noall', '+comments', '+answer', ...args]);
  assert.equal(r.code, 0, r.stderr || r.stdout);
  const status = /status: ([A-Z]+)/.exec(r.stdout)?.[1] ?? 'none';
  const answers = r.stdout
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith(';'))
    .map((l) => l.split(/\s+/))
    .map((f) => `${f[0]} ${f[3]} ${f.slice(4).join(' ')}`);
  return { status, answers };
}

const a = (name: string, data: string): Answer => ({ type: 'A', name, ttl: 300, class: 'IN', data }) as Answer;

function config(zones: string[]): string {
  return `[forward]\nzones = [${zones.map((z) => JSON.stringify(z)).join(', ')}]\n`;
}

describe('#14 - forward zones, rewrites and rebind protection on the executable', () => {
  let dir: string;
  let file: string;
  let nsd: Nsd;
  let upstream: FakeUpstream;
  let h: HoldfastProcess;
  const metric = async (line: string) => {
    const text = await (await fetch(`http://127.0.0.1:${h.httpPort}/metrics`)).text();
    return Number(text.split('\n').find((l) => l.startsWith(line + ' '))?.split(' ')[1] ?? NaN);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'holdfast-fz-'));
    nsd = await startNsd([
      { name: 'corp.test', records: 'wiki IN A 10.20.0.5\nlan-box IN A 192.168.50.5' },
      { name: 'lab.test', records: 'bench IN A 10.30.0.7' },
      { name: '168.192.in-addr.arpa', records: '5.50 IN PTR lan-box.corp.test.' },
    ]);
    upstream = await startFakeUpstream({ a: '192.0.2.7', defaultPlan: plans.answer() });
    upstream.plan('rebind.example', plans.answer({ answers: [a('rebind.example', '192.168.1.66'), a('rebind.example', '203.0.113.66')] }));
    upstream.plan('only-lan.example', plans.answer({ answers: [a('only-lan.example', '10.1.1.1')] }));
    upstream.plan('box.allowed.example', plans.answer({ answers: [a('box.allowed.example', '192.168.1.77')] }));
    file = join(dir, 'holdfast.toml');
    writeFileSync(file, config([`corp.test=udp://127.0.0.1:${nsd.port}`, `168.192.in-addr.arpa=udp://127.0.0.1:${nsd.port}`]));
    h = await startHoldfast([
      '--config', file,
      '--upstream', `udp://127.0.0.1:${upstream.port}`,
      '--rewrite', 'www.example.com=edge.example.net',
      '--rewrite', 'tv.example=192.0.2.80',
      '--rebind-allow', 'allowed.example',
      '--http', '0',
      '--query-log', '100',
    ]);
  });

  after(async () => {
    await h?.stop();
    await upstream?.close();
    await nsd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends forward-zone names to the zone server only, keeps its LAN addresses, and caches them', async () => {
    assert.deepEqual((await ask(h.port, ['wiki.corp.test', 'A'])).answers, ['wiki.corp.test. A 10.20.0.5']);
    assert.deepEqual((await ask(h.port, ['lan-box.corp.test', 'A'])).answers, ['lan-box.corp.test. A 192.168.50.5']);
    const k = await kdig(h.port, ['+tcp', '+short', 'wiki.corp.test', 'A']);
    assert.equal(k.stdout.trim(), '10.20.0.5');
    assert.equal(upstream.count('wiki.corp.test') + upstream.count('lan-box.corp.test'), 0, 'no forward-zone name reached the main upstream');
    assert.equal(await metric('holdfast_answers_total{outcome="forward_zone"}'), 2, 'the TCP repeat came from the cache');
    const queries = await (await fetch(`http://127.0.0.1:${h.httpPort}/api/queries`)).json();
    assert.ok(JSON.stringify(queries).includes('forward-zone'), JSON.stringify(queries).slice(0, 400));
  });

  it("answers the router's reverse zone from its server instead of NXDOMAIN, and other private reverse names still locally", async () => {
    assert.deepEqual((await ask(h.port, ['-x', '192.168.50.5'])).answers, ['5.50.168.192.in-addr.arpa. PTR lan-box.corp.test.']);
    assert.equal((await ask(h.port, ['-x', '10.9.9.9'])).status, 'NXDOMAIN');
    assert.equal(upstream.received.filter((r) => r.name.endsWith('in-addr.arpa')).length, 0);
  });

  it('rewrites to an address, and to a name resolved upstream with the whole chain', async () => {
    assert.deepEqual((await ask(h.port, ['tv.example', 'A'])).answers, ['tv.example. A 192.0.2.80']);
    const aaaa = await ask(h.port, ['tv.example', 'AAAA']);
    assert.equal(aaaa.status, 'NOERROR');
    assert.deepEqual(aaaa.answers, []);
    assert.deepEqual((await ask(h.port, ['www.example.com', 'A'])).answers, ['www.example.com. CNAME edge.example.net.', 'edge.example.net. A 192.0.2.7']);
    assert.equal(upstream.count('www.example.com'), 0);
    assert.equal(upstream.count('edge.example.net'), 1);
    assert.equal(await metric('holdfast_answers_total{outcome="rewrite"}'), 3);
  });

  it('drops LAN addresses from the main upstream (NOERROR, no data when none is left), but not for --rebind-allow', async () => {
    assert.deepEqual((await ask(h.port, ['rebind.example', 'A'])).answers, ['rebind.example. A 203.0.113.66']);
    const none = await ask(h.port, ['only-lan.example', 'A']);
    assert.equal(none.status, 'NOERROR');
    assert.deepEqual(none.answers, []);
    // Asked again: the stripped answer is what was cached (never its addresses), so the repeat
    // is answered here and does not go upstream (RFC 2308 §5: no SOA came, Holdfast keeps the
    // NODATA 60 s itself).
    assert.deepEqual((await ask(h.port, ['only-lan.example', 'A'])).answers, []);
    assert.equal(upstream.count('only-lan.example', 'udp'), 1, '#14 - the repeat of a stripped NODATA is answered from the cache');
    assert.deepEqual((await ask(h.port, ['box.allowed.example', 'A'])).answers, ['box.allowed.example. A 192.168.1.77']);
    assert.equal(await metric('holdfast_rebind_blocked_total'), 2);
    // One log line per name, however often it is asked.
    assert.ok(await until(() => h.logs.some((l) => String(l.msg).startsWith('rebind protection: only-lan.example.')), 3000));
    assert.equal(h.logs.filter((l) => String(l.msg).startsWith('rebind protection: only-lan.example.')).length, 1);
  });

  it("#14 - shows each zone's upstreams in /metrics (label zone, promtool clean) and /readyz", { skip: PROMTOOL ? false : 'promtool is missing' }, async () => {
    const text = await (await fetch(`http://127.0.0.1:${h.httpPort}/metrics`)).text();
    const check = spawnSync(PROMTOOL!, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 15_000 });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
    const zoneUpstream = `udp://127.0.0.1:${nsd.port}`;
    assert.equal(await metric(`holdfast_upstream_breaker_state{upstream="${zoneUpstream}",zone="corp.test"}`), 0);
    assert.ok((await metric(`holdfast_upstream_replies_total{upstream="${zoneUpstream}",zone="corp.test"}`)) >= 2);
    assert.equal(await metric(`holdfast_upstream_breaker_state{upstream="udp://127.0.0.1:${upstream.port}"}`), 0);
    const ready = await (await fetch(`http://127.0.0.1:${h.httpPort}/readyz`)).json();
    assert.deepEqual(
      ready.upstreams.map((u: { zone: string | null; label: string }) => `${u.zone} ${u.label}`),
      [`null udp://127.0.0.1:${upstream.port}`, `corp.test ${zoneUpstream}`, `168.192.in-addr.arpa ${zoneUpstream}`],
    );
    assert.deepEqual(ready.zones, [
      { zone: 'corp.test', reachable: true },
      { zone: '168.192.in-addr.arpa', reachable: true },
    ]);
  });

  it('explains forward zones, rewrites and rebind exemptions (CLI and /api/explain)', async () => {
    const r = await runHoldfast(['explain', 'wiki.corp.test', '--config', file, '--upstream', `udp://127.0.0.1:${upstream.port}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^forward-zone: forward zone corp\.test\..*udp:\/\/127\.0\.0\.1/m);
    const rw = await runHoldfast(['explain', 'tv.example', '--rewrite', 'tv.example=192.0.2.80']);
    assert.match(rw.stdout, /^rewrite: --rewrite tv\.example=192\.0\.2\.80/m);
    const api = await (await fetch(`http://127.0.0.1:${h.httpPort}/api/explain?name=box.allowed.example`)).json();
    assert.match(JSON.stringify(api), /--rebind-allow allowed\.example/);
  });

  it('puts a changed forward zone in force on SIGHUP', async () => {
    writeFileSync(file, config([`lab.test=udp://127.0.0.1:${nsd.port}`]));
    process.kill(h.pid, 'SIGHUP');
    assert.ok(await until(() => h.logs.some((l) => String(l.msg).startsWith('SIGHUP: configuration reloaded')), 5000));
    assert.deepEqual((await ask(h.port, ['bench.lab.test', 'A'])).answers, ['bench.lab.test. A 10.30.0.7']);
    assert.equal(upstream.count('bench.lab.test'), 0);
    // corp.test is no longer a forward zone: a new name under it goes to the main upstream.
    await ask(h.port, ['new.corp.test', 'A']);
    assert.equal(upstream.count('new.corp.test'), 1);
    // And 168.192.in-addr.arpa is a private reverse zone answered locally again.
    assert.equal((await ask(h.port, ['-x', '192.168.50.6'])).status, 'NXDOMAIN');
  });

  it('refuses to start with a bad --forward-zone, naming it', async () => {
    const r = await runHoldfast(['serve', '--listen', '127.0.0.1:0', '--upstream', `udp://127.0.0.1:${upstream.port}`, '--forward-zone', 'corp.test=ftp://10.0.0.1']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--forward-zone: "corp\.test=ftp:\/\/10\.0\.0\.1"/);
  });
});
