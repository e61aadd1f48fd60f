// An upstream that refuses, as the shipped artefacts see it: nothing listens on its port, so
// each query draws an ICMP port unreachable. The client's SERVFAIL must come at once, not at
// the deadline; the log must say once that the upstream is failing and why, and once that it
// recovered when a server starts on that port; never a line per query.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { udpExchange } from '../helpers/dns-client.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { decode, query } from '../helpers/packets.ts';
import { freePort } from '../helpers/ports.ts';
import { holdfastArgv, runtimeName } from '../helpers/runtime.ts';
import { until } from '../helpers/until.ts';

const X64 = 'dist/holdfast-linux-x64';
/** --timeout: the refusal's SERVFAIL must come in well under it. */
const TIMEOUT_MS = 10_000;
/** More than upstream.breakerFailures (5): enough refusals to call the upstream failing. */
const QUERIES = 8;

const rcodeOf = (bytes: Uint8Array) => decode(bytes).rcode;

function refusingUpstream(name: string, argv: () => readonly string[], skip: string | false = false): void {
  describe(name, { skip }, () => {
    let port: number;
    let label: string;
    let hf: HoldfastProcess;
    let fake: FakeUpstream | null = null;
    const stateLines = (event: string) => hf.logs.filter((l) => l.upstream === label && l.event === event);

    before(async () => {
      port = await freePort();
      label = `udp://127.0.0.1:${port}`;
      hf = await startHoldfast(['--upstream', label, '--timeout', String(TIMEOUT_MS)], { argv: argv() });
    });
    after(async () => {
      await hf?.stop();
      await fake?.close();
    });

    it('#10 - answers SERVFAIL well before --timeout when the only upstream refuses', async () => {
      const sentAt = Date.now();
      const r = await udpExchange(hf.port, query('first.refused.test', 'A', { id: 0x0a01 }), TIMEOUT_MS + 2_000);
      const tookMs = Date.now() - sentAt;
      assert.ok(r, 'no reply at all');
      assert.equal(rcodeOf(r), 'SERVFAIL');
      assert.ok(tookMs < TIMEOUT_MS / 2, `SERVFAIL took ${tookMs} ms with --timeout ${TIMEOUT_MS}: the refusal was not taken as an answer`);
    });

    it('#10 - logs one "failing" line naming the upstream and the refusal, however many queries fail', async () => {
      for (let i = 0; i < QUERIES; i++) {
        const r = await udpExchange(hf.port, query(`q${i}.refused.test`, 'A', { id: 0x0a10 + i }), TIMEOUT_MS + 2_000);
        assert.ok(r, `no reply to query ${i}`);
        assert.equal(rcodeOf(r), 'SERVFAIL');
      }
      assert.ok(await until(() => stateLines('failing').length > 0, 2_000), `no failing line:\n${hf.stderr()}`);
      const lines = stateLines('failing');
      assert.equal(lines.length, 1, hf.stderr());
      assert.equal(lines[0].level, 'warn');
      assert.match(String(lines[0].msg), new RegExp(`${label}.*refused`));
      assert.equal(lines[0].code, 'HF_UPSTREAM_REFUSED');
      assert.equal(stateLines('recovered').length, 0);
      assert.doesNotMatch(hf.stderr(), /ECONNREFUSED[^\n]*\n\s+at /, 'a stack trace was printed');
    });

    it('#10 - logs one "recovered" line once a server answers on that port', async () => {
      fake = await startFakeUpstream({ port });
      let answered = false;
      // The breaker lets a probe through within upstream.breakerMaxCooldownMs (3 s).
      for (let i = 0; i < 60 && !answered; i++) {
        const r = await udpExchange(hf.port, query(`back${i}.refused.test`, 'A', { id: 0x0b00 + i }), TIMEOUT_MS + 2_000);
        answered = r !== null && rcodeOf(r) === 'NOERROR';
        if (!answered) await new Promise((res) => setTimeout(res, 250));
      }
      assert.ok(answered, `never answered through the recovered upstream:\n${hf.stderr()}`);
      assert.ok(await until(() => stateLines('recovered').length > 0, 2_000), hf.stderr());
      assert.equal(stateLines('recovered').length, 1, hf.stderr());
      assert.equal(stateLines('recovered')[0].level, 'info');
      assert.match(String(stateLines('recovered')[0].msg), new RegExp(label));
      assert.equal(stateLines('failing').length, 1, hf.stderr());
    });
  });
}

refusingUpstream('the linux-x64 executable, with a refusing upstream', () => {
  assert.ok(existsSync(X64), `${X64} is missing: build it with \`node build/build.mjs linux-x64\``);
  return [X64];
});

refusingUpstream(
  `holdfast under ${runtimeName}, with a refusing upstream`,
  holdfastArgv,
  // Deno's UDP (Deno.listenDatagram, and its node:dgram) never reports ICMP errors, so there a
  // refused upstream is only silent: it is called failing after its timeouts (pool tests).
  runtimeName === 'deno' ? "Deno's UDP sockets do not report ICMP port unreachable" : false,
);
