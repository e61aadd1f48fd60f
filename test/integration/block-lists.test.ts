// #14: block lists on the shipped executable, asked with dig, with the fake upstream counting
// what reaches it; URL lists served over HTTPS by a local server signed by a test CA.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dig } from '../helpers/dns-client.ts';
import { plans, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { runHoldfast, startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { createTestPki, TEST_SERVER_NAME, type TestPki } from '../helpers/tls-certs.ts';
import { until } from '../helpers/until.ts';

const short = (r: { stdout: string }) => r.stdout.trim().split('\n').filter(Boolean);
const status = (r: { stdout: string }) => /status: (\w+)/.exec(r.stdout)?.[1];

describe('#14 - block lists', () => {
  let upstream: FakeUpstream;
  let dir: string;
  const procs: HoldfastProcess[] = [];
  const start = async (args: string[]) => {
    const p = await startHoldfast(['--upstream', upstream.url.udp, '--cache-size', '1000', ...args]);
    procs.push(p);
    return p;
  };

  before(async () => {
    upstream = await startFakeUpstream();
    dir = mkdtempSync(join(tmpdir(), 'holdfast-block-'));
  });
  after(async () => {
    for (const p of procs) await p.stop();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('blocks names from a file list, never forwarding them, with the list and rule in the query log and metrics', async () => {
    const list = join(dir, 'ads.txt');
    writeFileSync(list, '# ads\n0.0.0.0 ads.example.com\n||tracker.example.net^\n@@||ok.tracker.example.net^\nnot a rule\n');
    const p = await start(['--block-list', list, '--allow-name', 'fine.example.net', '--http', '0', '--query-log', '100']);
    assert.deepEqual(short(await dig(p.port, ['+short', 'ads.example.com', 'A'])), ['0.0.0.0']);
    assert.deepEqual(short(await dig(p.port, ['+short', 'a.b.tracker.example.net', 'AAAA'])), ['::']);
    const mx = await dig(p.port, ['a.tracker.example.net', 'MX']);
    assert.equal(status(mx), 'NOERROR');
    assert.match(mx.stdout, /ANSWER: 0/);
    assert.equal(status(await dig(p.port, ['use-application-dns.net', 'A'])), 'NXDOMAIN');
    assert.equal(upstream.count('ads.example.com') + upstream.count('a.b.tracker.example.net') + upstream.count('a.tracker.example.net') + upstream.count('use-application-dns.net'), 0);
    // Passed on: a name under a hosts line, an exception, and something else.
    for (const name of ['sub.ads.example.com', 'ok.tracker.example.net', 'www.example.org']) {
      assert.deepEqual(short(await dig(p.port, ['+short', name, 'A'])), ['192.0.2.1'], name);
      assert.equal(upstream.count(name), 1, name);
    }
    const bad = p.logs.find((l) => typeof l.msg === 'string' && l.msg.includes('lines are no rule'));
    assert.ok(bad, 'the bad line is reported');
    assert.match(String(bad.msg), /line 5 "not a rule"/);
    const queries = await (await fetch(`http://127.0.0.1:${p.httpPort}/api/queries`)).json();
    const blocked = queries.queries.find((q: { name: string }) => q.name === 'ads.example.com.');
    assert.equal(blocked.source, 'blocked');
    assert.equal(blocked.blockedBy, `${list}: 0.0.0.0 ads.example.com (line 2)`);
    const metrics = await (await fetch(`http://127.0.0.1:${p.httpPort}/metrics`)).text();
    assert.match(metrics, /holdfast_answers_total\{outcome="blocked"\} 4/);
    assert.ok(metrics.includes(`holdfast_blocked_total{list="${list}"} 3`), metrics.split('\n').filter((l) => l.includes('blocked')).join('\n'));
    const explain = await (await fetch(`http://127.0.0.1:${p.httpPort}/api/explain?name=www.tracker.example.net`)).json();
    assert.equal(explain.stages[0].stage, 'block');
    assert.equal(explain.stages[0].text, `blocked (A 0.0.0.0, AAAA ::, other types no data) by ${list}: ||tracker.example.net^ (line 3)`);
  });

  it('answers NXDOMAIN with --block-action nxdomain, and reads a changed list on SIGHUP', async () => {
    const list = join(dir, 'hup.txt');
    writeFileSync(list, 'first.example.com\n');
    const p = await start(['--block-list', list, '--block-action', 'nxdomain']);
    assert.equal(status(await dig(p.port, ['x.first.example.com', 'A'])), 'NXDOMAIN');
    assert.equal(status(await dig(p.port, ['second.example.com', 'A'])), 'NOERROR');
    writeFileSync(list, 'second.example.com\n');
    process.kill(p.pid, 'SIGHUP');
    assert.ok(await until(() => p.logs.some((l) => String(l.msg).startsWith('SIGHUP: configuration reloaded')), 5000));
    assert.equal(status(await dig(p.port, ['second.example.com', 'A'])), 'NXDOMAIN');
    assert.equal(status(await dig(p.port, ['x.first.example.com', 'A'])), 'NOERROR');
    assert.equal(upstream.count('second.example.com'), 1, 'asked upstream only before the reload');
  });

  it('refuses to start without a list file, naming it; explain names the list and rule', async () => {
    const missing = join(dir, 'missing.txt');
    const r = await runHoldfast(['serve', '--listen', '127.0.0.1:0', '--upstream', upstream.url.udp, '--block-list', missing]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`block list: ${missing} does not exist`));
    const list = join(dir, 'explain.txt');
    writeFileSync(list, '! adblock\n||doubleclick.example^\n');
    const e = await runHoldfast(['explain', 'ad.doubleclick.example', 'AAAA', '--block-list', list]);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.stdout, `block: blocked (A 0.0.0.0, AAAA ::, other types no data) by ${list}: ||doubleclick.example^ (line 2)\n`);
  });

  describe('a URL list over HTTPS', () => {
    let pki: TestPki;
    let server: Server;
    let port = 0;
    let mode: 'serve' | 'fail' = 'serve';
    let body = '0.0.0.0 url-one.example.com\n';
    const requests: Array<{ inm: string | undefined; status: number }> = [];

    before(async () => {
      pki = createTestPki();
      server = createServer({ cert: readFileSync(pki.good.cert), key: readFileSync(pki.good.key) }, (req, res) => {
        const etag = `"${body.length}-${body.charCodeAt(8)}"`;
        let code = 200;
        if (mode === 'fail') code = 500;
        else if (req.headers['if-none-match'] === etag) code = 304;
        requests.push({ inm: req.headers['if-none-match'] as string | undefined, status: code });
        res.writeHead(code, code === 200 ? { etag, 'content-type': 'text/plain' } : {});
        res.end(code === 200 ? body : code === 500 ? 'oops' : undefined);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
      // The list's host is found through Holdfast's own upstream, the fake.
      upstream.plan(TEST_SERVER_NAME, plans.answer({ answers: [{ type: 'A', name: TEST_SERVER_NAME, ttl: 300, data: '127.0.0.1' }] }));
    });
    after(() => {
      server.close();
      pki.remove();
    });

    it('downloads, keeps a copy, gets 304 when unchanged, keeps the list through a 500 and a dead server, and starts offline from the copy', async () => {
      const lists = join(dir, 'lists');
      rmSync(lists, { recursive: true, force: true });
      mkdirSync(lists);
      const url = `https://${TEST_SERVER_NAME}:${port}/hosts.txt`;
      // The list's host answers with a loopback address, which rebind protection (on by default)
      // strips from upstream answers: a list on a LAN server is let through by name.
      const args = ['--block-list', url, '--lists-dir', lists, '--ca-file', pki.caFile, '--block-list-refresh', '10', '--rebind-allow', TEST_SERVER_NAME];
      const p = await start(args);
      const has = (text: string) => p.logs.filter((l) => String(l.msg).includes(text)).length;
      assert.ok(await until(() => has(': downloaded,') === 1, 8000), p.stderr());
      assert.deepEqual(short(await dig(p.port, ['+short', 'url-one.example.com', 'A'])), ['0.0.0.0']);
      assert.equal(upstream.count('url-one.example.com'), 0);
      assert.ok(upstream.count(TEST_SERVER_NAME) >= 1, 'the list host was resolved through the upstream');
      assert.equal(readdirSync(lists).filter((f) => f.endsWith('.list')).length, 1);
      // Unchanged: a conditional request answered 304.
      assert.ok(await until(() => has('unchanged (HTTP 304)') === 1, 15_000), p.stderr());
      assert.equal(requests.at(-1)!.status, 304);
      assert.ok(requests.at(-1)!.inm);
      // A 500: the list stays in force, and the log says so.
      mode = 'fail';
      assert.ok(await until(() => has('HTTP 500') === 1, 15_000), p.stderr());
      assert.match(String(p.logs.find((l) => String(l.msg).includes('HTTP 500'))!.msg), /keeping the list from/);
      assert.deepEqual(short(await dig(p.port, ['+short', 'url-one.example.com', 'A'])), ['0.0.0.0']);
      await p.stop();
      // The server gone: a new start blocks from the kept copy at once.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const offline = await start(args);
      assert.deepEqual(short(await dig(offline.port, ['+short', 'url-one.example.com', 'A'])), ['0.0.0.0']);
      assert.ok(offline.logs.some((l) => String(l.msg).includes('the copy from')), offline.stderr());
      // When its download comes due, the dead server fails it, and the copy stays in force.
      assert.ok(await until(() => offline.logs.some((l) => /could not be downloaded .*keeping the list from/.test(String(l.msg))), 15_000), offline.stderr());
      assert.deepEqual(short(await dig(offline.port, ['+short', 'url-one.example.com', 'A'])), ['0.0.0.0']);
      assert.equal(upstream.count('url-one.example.com'), 0);
    });
  });
});
