// #12's stale guardrails through the shipped executable: names are cached, expire, and the
// upstream dies. An ordinary name is answered stale (TTL 30); a --no-stale name, and a
// --max-stale name past its window, get SERVFAIL; /api/queries shows each answer's wait and how
// far past expiry a stale answer was.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dig } from '../helpers/dns-client.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';

interface Entry {
  name: string;
  source: string;
  rcode: string;
  waitedMs?: number;
  staleAgeSeconds?: number;
  staleWindowSeconds?: number;
}

describe('#12 - stale answers with guardrails', () => {
  let fake: FakeUpstream | null = null;
  let hf: HoldfastProcess;
  before(async () => {
    fake = await startFakeUpstream({ ttl: 1 });
    hf = await startHoldfast([
      '--upstream', fake.url.udp,
      '--timeout', '1000',
      '--no-stale', 'dyn.guard.test',
      '--max-stale', 'short.guard.test=1',
      '--http', '0',
      '--query-log', '100',
    ]);
  });
  after(async () => {
    await hf?.stop();
    await fake?.close();
  });

  const status = async (name: string) => /status: (\w+)/.exec((await dig(hf.port, [name, 'A', '+noall', '+comments', '+answer'])).stdout)?.[1];

  it('#12 - a --no-stale name gets SERVFAIL when the upstream dies, while other names are served stale', async () => {
    for (const name of ['www.guard.test', 'home.dyn.guard.test', 'x.short.guard.test']) assert.equal(await status(name), 'NOERROR');
    // Two seconds past expiry (TTL 1): beyond short.guard.test's window of one second.
    await new Promise((r) => setTimeout(r, 3_000));
    await fake!.close();
    fake = null;
    const stale = await dig(hf.port, ['www.guard.test', 'A', '+noall', '+comments', '+answer']);
    assert.match(stale.stdout, /status: NOERROR/);
    assert.match(stale.stdout, /www\.guard\.test\.\s+30\s+IN\s+A\s+192\.0\.2\.1/, 'stale answers keep TTL 30');
    // That first one was answered at once while refreshing (stale-while-revalidate); the refresh
    // failed, so from now on it is served stale for the upstream's failure (stale-if-error).
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await status('www.guard.test'), 'NOERROR');
    assert.equal(await status('home.dyn.guard.test'), 'SERVFAIL');
    assert.equal(await status('x.short.guard.test'), 'SERVFAIL');
  });

  it('#12 - the query log shows the stale age, its window and the client wait', async () => {
    const body = (await (await fetch(`http://127.0.0.1:${hf.httpPort}/api/queries`)).json()) as { queries: Entry[] };
    const latest = (name: string) => body.queries.find((e) => e.name === `${name}.`)!;
    const stale = latest('www.guard.test');
    assert.equal(stale.source, 'cache-stale', JSON.stringify(stale));
    assert.equal(body.queries.filter((e) => e.name === 'www.guard.test.')[1].source, 'cache-revalidating');
    assert.ok(stale.staleAgeSeconds! >= 2 && stale.staleAgeSeconds! < 60, JSON.stringify(stale));
    assert.equal(stale.staleWindowSeconds, 3 * 86_400, '--stale-if-error: 3 days');
    assert.equal(typeof stale.waitedMs, 'number');
    const refused = latest('home.dyn.guard.test');
    assert.equal(refused.source, 'failure');
    assert.equal(refused.rcode, 'SERVFAIL');
    assert.equal(refused.staleAgeSeconds, undefined);
    assert.equal(typeof refused.waitedMs, 'number');
    const fresh = body.queries.filter((e) => e.name === 'www.guard.test.').at(-1)!;
    assert.equal(fresh.source, 'upstream');
    assert.equal(typeof fresh.waitedMs, 'number');
  });
});
