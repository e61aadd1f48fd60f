// RFC 8767 through a real process: a name is cached, expires, and the upstream goes silent;
// dig must still get the old answer, with TTL 30, instead of SERVFAIL.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dig } from '../helpers/dns-client.ts';
import { plans, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';

describe('serve-stale when the upstream goes silent', () => {
  let fake: FakeUpstream;
  let hf: HoldfastProcess;
  before(async () => {
    fake = await startFakeUpstream({ ttl: 1 });
    hf = await startHoldfast(['--upstream', fake.url.udp, '--timeout', '1000']);
  });
  after(async () => {
    await hf?.stop();
    await fake?.close();
  });

  it('answers an expired name with TTL 30 once the upstream stops answering', async () => {
    const first = await dig(hf.port, ['gone.stale.test', 'A', '+noall', '+answer']);
    assert.match(first.stdout, /gone\.stale\.test\.\s+1\s+IN\s+A\s+192\.0\.2\.1/);
    await new Promise((r) => setTimeout(r, 1500));
    fake.plan('gone.stale.test', plans.drop());
    const later = await dig(hf.port, ['gone.stale.test', 'A', '+noall', '+answer', '+comments']);
    assert.match(later.stdout, /status: NOERROR/);
    assert.match(later.stdout, /gone\.stale\.test\.\s+30\s+IN\s+A\s+192\.0\.2\.1/);
  });

  it('still answers SERVFAIL for a name it never had', async () => {
    fake.plan('never.stale.test', plans.drop());
    const r = await dig(hf.port, ['never.stale.test', 'A']);
    assert.match(r.stdout, /status: SERVFAIL/);
  });
});
