// The status page in real headless Chromium, served by a real holdfast process in front of a
// real NSD: it must render live figures from the API with no console errors, and ask for the
// token when one is needed. A screenshot is left in .cache/ for a person to look at.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM, loadPage } from '../helpers/chromium.ts';
import { dig } from '../helpers/dns-client.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';
import { runtimeName } from '../helpers/runtime.ts';

const NO_CHROMIUM = CHROMIUM ? false : 'chromium is missing: install Debian\'s "chromium" package (bash .ci/run does)';

/** The text of the element with this id, from a dumped DOM. */
function byId(dom: string, id: string): string | null {
  const m = new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(dom);
  return m ? m[1] : null;
}

describe('the status page in headless Chromium', { skip: NO_CHROMIUM }, () => {
  let nsd: Nsd;
  let hf: HoldfastProcess;
  let upstream: string;
  before(async () => {
    nsd = await startNsd([{ name: 'status.test', records: 'www IN A 192.0.2.70\nmail IN A 192.0.2.71' }]);
    upstream = `udp://127.0.0.1:${nsd.port}`;
    hf = await startHoldfast(['--upstream', upstream, '--http', '0', '--query-log', '100']);
    // Some traffic to show: a miss, two hits, another name over TCP, and an NXDOMAIN.
    for (const args of [['www.status.test'], ['www.status.test'], ['www.status.test'], ['mail.status.test', '+tcp'], ['nope.status.test']]) {
      await dig(hf.port, [...args, '+short']);
    }
  });
  after(async () => {
    await hf?.stop();
    await nsd?.stop();
  });

  it('renders live figures, upstream health, top names and the query log, with no console messages', async () => {
    mkdirSync('.cache', { recursive: true });
    const shot = `.cache/status-page-${runtimeName}.png`;
    const page = await loadPage(`http://127.0.0.1:${hf.httpPort}/`, { screenshot: shot });
    assert.deepEqual(page.console, [], 'console messages');
    assert.equal(byId(page.dom, 'status'), 'ok');
    assert.equal(byId(page.dom, 'queries'), '5');
    assert.equal(byId(page.dom, 'error'), '');
    assert.match(byId(page.dom, 'hitrate') ?? '', /^\d+\.\d %$/);
    assert.match(page.dom, new RegExp(`>${upstream.replace(/[.]/g, '\\.')}<`), 'the upstream is listed');
    assert.match(page.dom, />closed</);
    assert.match(page.dom, />www\.status\.test\.</, 'a top name or logged query');
    assert.match(page.dom, />mail\.status\.test\.</);
    assert.match(page.dom, /<div id="content">/, 'the content is shown');
    assert.ok(existsSync(shot) && statSync(shot).size > 10_000, 'a screenshot was taken');
  });
});

describe('the status page with a token', { skip: NO_CHROMIUM }, () => {
  const TOKEN = 'page-token-51';
  let nsd: Nsd;
  let hf: HoldfastProcess;
  before(async () => {
    nsd = await startNsd([{ name: 'status.test', records: 'www IN A 192.0.2.70' }]);
    hf = await startHoldfast(['--upstream', `udp://127.0.0.1:${nsd.port}`, '--http', '0', '--http-token', TOKEN]);
  });
  after(async () => {
    await hf?.stop();
    await nsd?.stop();
  });

  it('asks for the token and shows no figures without it', async () => {
    const page = await loadPage(`http://127.0.0.1:${hf.httpPort}/`, { virtualMs: 3_000 });
    assert.match(page.dom, /<form id="login">/, 'the token form is shown');
    assert.match(page.dom, /<div id="content" hidden="">/, 'the figures are not');
    assert.equal(byId(page.dom, 'status'), 'token needed');
  });

  it('shows the figures with the token given in the URL fragment, with no console messages', async () => {
    const page = await loadPage(`http://127.0.0.1:${hf.httpPort}/#token=${TOKEN}`, { virtualMs: 3_000 });
    assert.deepEqual(page.console, []);
    assert.match(page.dom, /<div id="content">/);
    assert.equal(byId(page.dom, 'queries'), '0');
  });
});

describe('#14 - the status page with block lists and a forward zone', { skip: NO_CHROMIUM }, () => {
  let nsd: Nsd;
  let hf: HoldfastProcess;
  let dir: string;
  let list: string;
  before(async () => {
    nsd = await startNsd([{ name: 'status.test', records: 'www IN A 192.0.2.70' }]);
    dir = mkdtempSync(join(tmpdir(), 'holdfast-status-'));
    list = join(dir, 'ads.txt');
    writeFileSync(list, '0.0.0.0 ads.status.test\n||tracker.example^\n');
    hf = await startHoldfast([
      '--upstream', `udp://127.0.0.1:${nsd.port}`,
      '--forward-zone', `status.test=udp://127.0.0.1:${nsd.port}`,
      '--block-list', list,
      '--http', '0',
    ]);
    for (const name of ['ads.status.test', 'ads.status.test', 'ads.status.test', 'x.tracker.example', 'www.status.test']) await dig(hf.port, [name, '+short']);
  });
  after(async () => {
    await hf?.stop();
    await nsd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows the blocked share, the list with its size and age, the most blocked names and the zone of each upstream', async () => {
    const page = await loadPage(`http://127.0.0.1:${hf.httpPort}/`);
    assert.deepEqual(page.console, [], 'console messages');
    // 4 of 5 answers blocked.
    assert.equal(byId(page.dom, 'blocked'), '80.0 %');
    assert.match(byId(page.dom, 'blockedsub') ?? '', /^4 answers from 1 list$/);
    const lists = /<tbody id="lists">(.*?)<\/tbody>/s.exec(page.dom)?.[1] ?? '';
    assert.ok(lists.includes(`>${list}<`), lists);
    assert.match(lists, /<td class="num">2<\/td><td class="num">\d+m \d+s<\/td><td class="num">4<\/td>/, 'names, age and blocked');
    const top = /<tbody id="topblocked">(.*?)<\/tbody>/s.exec(page.dom)?.[1] ?? '';
    assert.match(top, /ads\.status\.test\.<\/td><td class="num">3<.*x\.tracker\.example\.<\/td><td class="num">1</s, top);
    const upstreams = /<tbody id="upstreams">(.*?)<\/tbody>/s.exec(page.dom)?.[1] ?? '';
    assert.match(upstreams, />all names</);
    assert.match(upstreams, />status\.test</, 'the forward zone\'s upstream, with its zone');
  });
});
