// The status page in real headless Chromium, served by a real holdfast process in front of a
// real NSD: it must render live figures from the API with no console errors, and ask for the
// token when one is needed. A screenshot is left in .cache/ for a person to look at.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
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
