// `npm run fuzz` at a small size, and the answer checker it relies on: a check that cannot
// fail proves nothing, so the checker is fed broken answers and must flag each one.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { advertisedUdpSize, checkAnswer } from '../../build/campaigns/common.ts';
import { encode } from '../helpers/packets.ts';
import { runtimeName } from '../helpers/runtime.ts';
import { runCampaign } from './run-script.ts';

const query = encode({ type: 'query', id: 7, flags: 0x0100, questions: [{ type: 'A', name: 'a.example' }] });
const answer = encode({ type: 'response', id: 7, flags: 0x8180, questions: [{ type: 'A', name: 'a.example' }], answers: [{ type: 'A', name: 'a.example', ttl: 60, data: '192.0.2.1' }] });

describe('the campaigns\' answer checker', () => {
  it('accepts a well-formed answer to its query', () => {
    const v = checkAnswer(answer, 512, query);
    assert.equal(v.ok, true);
  });

  it('flags an answer dns-packet cannot read, a query, leftovers, a wrong ID or opcode, and an oversized UDP answer', () => {
    const withOpcode = answer.slice();
    withOpcode[2] |= 2 << 3;
    const wrongId = answer.slice();
    wrongId[1] = 8;
    // An A record of 3 bytes at the end of the message (the shape the fuzz campaign found).
    const badA = answer.slice(0, -1);
    badA[badA.length - 4] = 3;
    const cases: Array<[string, Uint8Array, number | null]> = [
      ['too short', answer.slice(0, 11), null],
      ['cut inside a record', answer.slice(0, answer.length - 2), null],
      ['bad A data', badA, null],
      ['a query', query, null],
      ['bytes after the message', Uint8Array.from([...answer, 0]), null],
      ['wrong ID', wrongId, null],
      ['wrong opcode', withOpcode, null],
      ['over the UDP limit', answer, answer.length - 1],
    ];
    for (const [what, bytes, limit] of cases) assert.equal(checkAnswer(bytes, limit, query).ok, false, what);
  });

  it('reads the UDP size a query advertises, 512 at least', () => {
    assert.equal(advertisedUdpSize(query), 512);
    assert.equal(advertisedUdpSize(encode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'x' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as never] })), 1232);
  });
});

describe('npm run fuzz', { skip: runtimeName !== 'bun' && 'the Bun leg runs it: it drives the shipped executable' }, () => {
  it('sends thousands of mutated packets over UDP and TCP and reports every check passed', async () => {
    const run = await runCampaign('fuzz.ts', ['--packets', '3000', '--max-minutes', '2'], 180_000);
    assert.equal(run.result, 'pass', run.stdout + run.stderr);
    assert.equal(run.code, 0);
    for (const name of ['no crash', 'no stack trace', 'no stall over 1 s', 'RSS bounded', 'answers well-formed']) assert.equal(run.checks.get(name), true, name);
    assert.match(run.stdout, /packets sent \(udp \/ tcp\)\s+3000 \(\d+ \/ [1-9]\d*\)/);
  });

  it('fails its report when a check fails (an RSS bound no server meets)', async () => {
    const run = await runCampaign('fuzz.ts', ['--packets', '500', '--max-minutes', '1', '--max-rss-mb', '1'], 120_000);
    assert.equal(run.result, 'fail');
    assert.equal(run.code, 1);
    assert.equal(run.checks.get('RSS bounded'), false);
  });
});
