import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dig } from '../helpers/dns-client.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';

describe('holdfast serve in front of NSD, asked by dig', () => {
  let nsd: Nsd;
  let hf: HoldfastProcess;
  before(async () => {
    nsd = await startNsd([{ name: 'example.test', records: 'www IN A 192.0.2.10' }]);
    hf = await startHoldfast(['--upstream', `udp://127.0.0.1:${nsd.port}`]);
  });
  after(async () => {
    await hf?.stop();
    await nsd?.stop();
  });

  it('answers a name from the zone', async () => {
    const r = await dig(hf.port, ['www.example.test', 'A', '+short']);
    assert.equal(r.stdout.trim(), '192.0.2.10');
  });

  it('stops with exit 0 on SIGTERM', async () => {
    const r = await hf.stop('SIGTERM');
    assert.equal(r.code, 0, JSON.stringify(r) + hf.stderr());
  });
});
