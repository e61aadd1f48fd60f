// #12: a wrong clock at boot. Through the real TLS stack of the runtime running this file (its
// adapter's connectTls) against a node:tls server, with certificates the test CA made valid only
// from tomorrow: the machine's clock is then "behind" them, as a router's is after a reboot.
// The guard's clock is injected; its floor plays the executable's build time.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import * as bunTls from '../../../src/adapters/bun/tls.ts';
import * as denoTls from '../../../src/adapters/deno/tls.ts';
import * as nodeTls from '../../../src/adapters/node/tls.ts';
import { ErrorCode, isHoldfastError } from '../../../src/core/errors.ts';
import type { CorePorts } from '../../../src/core/ports.ts';
import { createClockGuard, type ClockGuardEvent } from '../../../src/upstreams/clock-guard.ts';
import { parseUpstream } from '../../../src/upstreams/spec.ts';
import { createTlsDialer } from '../../../src/upstreams/tls/dialer.ts';
import { DEFAULT_ENCRYPTED_SETTINGS } from '../../../src/upstreams/transport.ts';
import { runtimeName } from '../../helpers/runtime.ts';
import { createTestPki, TEST_SERVER_NAME, type ServerCert, type TestPki } from '../../helpers/tls-certs.ts';

const adapter = runtimeName === 'deno' ? denoTls : runtimeName === 'bun' ? bunTls : nodeTls;
const DAY_MS = 86_400_000;

let pki: TestPki;
const servers: tls.Server[] = [];

/** A TLS server on loopback presenting `cert`; resolves with its port. */
function serve(cert: ServerCert): Promise<number> {
  const server = tls.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, (s) => {
    s.on('error', () => {});
    s.end();
  });
  server.on('tlsClientError', () => {});
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

/**
 * Dials 127.0.0.1:`port` as tls://...#NAME with the guard's clock at `clockMs` and its floor
 * (the build time) at `floorMs`; resolves with the warnings, rejects with the dial's error.
 */
async function dial(port: number, clockMs: number, floorMs: number, pins: string[] = []): Promise<ClockGuardEvent[]> {
  const warnings: ClockGuardEvent[] = [];
  const clock = { now: () => clockMs };
  const guard = createClockGuard(floorMs, clock, (e) => warnings.push(e));
  const ports: CorePorts = {
    clock,
    timers: { setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as number), setImmediate: (fn: () => void) => void setImmediate(fn) },
    entropy: { random: () => 0.5, id16: () => 1 },
    net: {
      connectUdp: () => Promise.reject(new Error('no UDP here')),
      connectTcp: () => Promise.reject(new Error('no plain TCP here')),
      connectTls: adapter.connectTls,
    },
  } as CorePorts;
  const query = pins.length > 0 ? `?${pins.map((p) => `pin=sha256/${encodeURIComponent(p)}`).join('&')}` : '';
  const spec = parseUpstream(`tls://127.0.0.1:${port}${query}#${TEST_SERVER_NAME}`);
  const dialer = createTlsDialer(spec, { ...DEFAULT_ENCRYPTED_SETTINGS, caPem: readFileSync(pki.caFile, 'utf8'), clockGuard: guard }, ports);
  const stream = await dialer.dial({ onData() {}, onClose() {} });
  stream.close();
  // A second connection while the clock is still wrong adds no line.
  (await dialer.dial({ onData() {}, onClose() {} })).close();
  return warnings;
}

const refusedTls = (e: unknown) => isHoldfastError(e, ErrorCode.upstreamTls);

describe(`#12 - certificates while the clock is wrong (${runtimeName})`, () => {
  let future: number;
  let wrongName: number;
  let untrusted: number;
  let expired: number;
  before(async () => {
    pki = createTestPki();
    future = await serve(pki.future);
    wrongName = await serve(pki.futureWrongName);
    untrusted = await serve(pki.futureUntrusted);
    expired = await serve(pki.expired);
  });
  after(() => {
    for (const s of servers) s.close();
    pki.remove();
  });

  it('accepts a certificate not yet valid by the clock, with one warning, while the clock reads before the build', async () => {
    // The clock reads now; it was built (so it is at least) a day and a half later.
    const warnings = await dial(future, pki.madeAtMs, pki.madeAtMs + 1.5 * DAY_MS);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].message, /certificates are accepted whatever their validity period/);
    assert.match(warnings[0].message, /not yet valid/);
  });

  it('refuses the same certificate once the clock is plausible', async () => {
    await assert.rejects(dial(future, pki.madeAtMs, pki.madeAtMs - DAY_MS), (e: unknown) => refusedTls(e) && /not yet valid|CERT_NOT_YET_VALID|NotValidYet|certificate/i.test((e as Error).message));
  });

  it('refuses a wrong name even while the clock is wrong', async () => {
    await assert.rejects(dial(wrongName, pki.madeAtMs, pki.madeAtMs + 1.5 * DAY_MS), (e: unknown) => refusedTls(e) && !/not yet valid/.test((e as Error).message));
  });

  it('refuses a chain to a CA nobody trusts even while the clock is wrong', async () => {
    await assert.rejects(dial(untrusted, pki.madeAtMs, pki.madeAtMs + 1.5 * DAY_MS), refusedTls);
  });

  it('refuses a certificate that ended before the build: expired whatever the true time', async () => {
    await assert.rejects(dial(expired, pki.madeAtMs, pki.madeAtMs + 1.5 * DAY_MS), (e: unknown) => refusedTls(e) && /expired/i.test((e as Error).message));
  });

  it('still checks the pins while the clock is wrong', async () => {
    await assert.rejects(dial(future, pki.madeAtMs, pki.madeAtMs + 1.5 * DAY_MS, [pki.good.pin]), (e: unknown) => refusedTls(e) && /matches no pin/.test((e as Error).message));
    assert.equal((await dial(future, pki.madeAtMs, pki.madeAtMs + 1.5 * DAY_MS, [pki.future.pin])).length, 1);
  });
});
