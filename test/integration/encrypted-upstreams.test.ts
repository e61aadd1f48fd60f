// Holdfast against real encrypted upstreams on loopback: unbound for DNS over TLS, dnsdist for
// DNS over HTTPS (HTTP/1.1), with a CA and certificates made for the test. A certificate that
// is wrong in any way, or a key that matches no pin, must give SERVFAIL and one log line with
// the reason, never an answer from anywhere else; servers that close idle connections or
// restart under load must cost no answers once they are back.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { askA, udpExchange } from '../helpers/dns-client.ts';
import { DOH_ANSWER, DOT_ANSWER, startDnsdistDoh, startUnboundDot, type EncryptedServer } from '../helpers/encrypted-servers.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';
import { decode, query, type Decoded } from '../helpers/packets.ts';
import { createTestPki, TEST_SERVER_NAME, type TestPki } from '../helpers/tls-certs.ts';

/** Generous: every reply is expected well before this, and a missing one fails the test. */
const REPLY_WAIT_MS = 8000;

let pki: TestPki;
before(() => {
  pki = createTestPki();
});
after(() => pki?.remove());

const ask = (port: number, name: string): Promise<Decoded> => askA(port, name, REPLY_WAIT_MS);

const addresses = (d: Decoded) => d.answers.filter((a) => a.type === 'A').map((a) => a.data);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Warnings about TLS connections in Holdfast's JSON log. */
const tlsWarnings = (hf: HoldfastProcess) => hf.logs.filter((l) => l.level === 'warn' && l.code === 'HF_UPSTREAM_TLS');

/** Starts Holdfast with `upstream` and the test CA. */
function holdfast(upstream: string, extra: string[] = []): Promise<HoldfastProcess> {
  return startHoldfast(['--upstream', upstream, '--ca-file', pki.caFile, '--timeout', '2000', ...extra]);
}

interface LoadResult {
  /** When it was sent, in ms from the start. */
  readonly at: number;
  /** 0 NOERROR, 2 anything else, -1 no reply at all. */
  readonly rcode: number;
  readonly addresses: readonly string[];
}

/** How long after a server is back its breaker may keep it out of use: a jittered cooldown. */
const RECOVERY_LIMIT_MS = 5000;
/** Queries answered in a row, in the order replies came, that end the load; fewer are asserted, as replies may come out of order. */
const STEADY_ANSWERS = 60;

/**
 * Sends a stream of cache misses, one every 20 ms, while `disrupt` runs (from 0.5 s), until
 * STEADY_ANSWERS in a row have been answered since it ended; at most 500 queries and 15 s.
 */
async function underLoad(port: number, prefix: string, disrupt: () => Promise<void>): Promise<{ results: LoadResult[]; backAt: number }> {
  const started = Date.now();
  const pending: Array<Promise<LoadResult>> = [];
  let backAt = Infinity;
  let streak = 0;
  const disruption = (async () => {
    await sleep(500);
    await disrupt();
    backAt = Date.now() - started;
  })();
  for (let i = 0; i < 500 && Date.now() - started < 15_000 && streak < STEADY_ANSWERS; i++) {
    const at = Date.now() - started;
    pending.push(
      udpExchange(port, query(`${prefix}-${i}.example.test`, 'A', { id: i + 1 }), REPLY_WAIT_MS).then((r) => {
        const d = r ? decode(r) : null;
        const result: LoadResult = { at, rcode: d === null ? -1 : d.rcode === 'NOERROR' ? 0 : 2, addresses: d ? addresses(d).map(String) : [] };
        if (at > backAt) streak = result.rcode === 0 ? streak + 1 : 0;
        return result;
      }),
    );
    await sleep(20);
  }
  await disruption;
  return { results: await Promise.all(pending), backAt };
}

/** Once answers resume after the restart, every later query is answered, and they resume in time. */
function assertRecovered(results: readonly LoadResult[], backAt: number, answer: string): void {
  assert.ok(results.every((r) => r.rcode !== -1), 'SERVFAIL at worst while it was down, never silence');
  let from = results.length;
  while (from > 0 && results[from - 1].rcode === 0) from--;
  const steady = results.slice(from);
  assert.ok(steady.length >= STEADY_ANSWERS / 2, `answered steadily after the restart: ${results.map((r) => `${r.at}:${r.rcode}`).join(' ')}`);
  assert.ok(steady[0].at - backAt <= RECOVERY_LIMIT_MS, `answers resumed ${steady[0].at - backAt} ms after the server was back`);
  assert.ok(steady.every((r) => r.addresses[0] === answer));
}

describe('DNS over TLS to unbound', () => {
  let server: EncryptedServer;
  let hf: HoldfastProcess;
  before(async () => {
    // unbound closes connections idle for a second, so the tests below see that happen.
    server = await startUnboundDot({ cert: pki.good, idleTimeoutMs: 1000 });
    hf = await holdfast(`tls://127.0.0.1:${server.port}#${TEST_SERVER_NAME}`);
  });
  after(async () => {
    await hf?.stop();
    await server?.stop();
  });

  it('answers over a verified connection: the test CA, the certificate name after #', async () => {
    for (const name of ['a.example.test', 'b.example.test', 'c.example.test']) assert.deepEqual(addresses(await ask(hf.port, name)), [DOT_ANSWER]);
    assert.deepEqual(tlsWarnings(hf), []);
  });

  it('reconnects without a lost answer after the server closes an idle connection', async () => {
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(addresses(await ask(hf.port, `idle-${i}.example.test`)), [DOT_ANSWER]);
      await sleep(1300); // past unbound's tcp-idle-timeout
    }
    assert.deepEqual(tlsWarnings(hf), []);
  });

  it('keeps answering while the server restarts under load', async () => {
    const { results, backAt } = await underLoad(hf.port, 'restart', () => server.restart(300));
    assertRecovered(results, backAt, DOT_ANSWER);
  });

  it('pins: refuses a key that matches no pin even with a valid chain, and accepts the right one', async () => {
    const wrong = await holdfast(`tls://127.0.0.1:${server.port}?pin=sha256/${pki.expired.pin}#${TEST_SERVER_NAME}`);
    const right = await holdfast(`tls://127.0.0.1:${server.port}?pin=sha256/${pki.expired.pin}&pin=sha256/${pki.good.pin}#${TEST_SERVER_NAME}`);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await ask(wrong.port, `pin-${i}.example.test`)).rcode, 'SERVFAIL');
      const warnings = tlsWarnings(wrong);
      assert.equal(warnings.length, 1, `logged once: ${JSON.stringify(warnings)}`);
      assert.match(String(warnings[0].msg), new RegExp(`sha256/${pki.good.pin.replace(/[+/]/g, '\\$&')} matches no pin`));
      assert.deepEqual(addresses(await ask(right.port, 'pinned.example.test')), [DOT_ANSWER]);
    } finally {
      await wrong.stop();
      await right.stop();
    }
  });
});

describe('DNS over TLS: certificates that must be refused', () => {
  const cases = [
    { what: 'a certificate for another name', cert: () => pki.wrongName, why: /altnames|NotValidForName|not valid for/i, ca: true },
    { what: 'an expired certificate', cert: () => pki.expired, why: /expired/i, ca: true },
    { what: 'a chain the system store does not trust (no --ca-file)', cert: () => pki.good, why: /issuer|verify|UnknownIssuer|self.signed/i, ca: false },
  ];
  for (const c of cases) {
    it(`answers SERVFAIL for ${c.what}, and logs the reason once`, async () => {
      const server = await startUnboundDot({ cert: c.cert() });
      const url = `tls://127.0.0.1:${server.port}#${TEST_SERVER_NAME}`;
      const hf = c.ca ? await holdfast(url) : await startHoldfast(['--upstream', url, '--timeout', '2000']);
      try {
        for (let i = 0; i < 3; i++) assert.equal((await ask(hf.port, `refused-${i}.example.test`)).rcode, 'SERVFAIL');
        const warnings = tlsWarnings(hf);
        assert.equal(warnings.length, 1, `logged once: ${JSON.stringify(warnings)}`);
        assert.match(String(warnings[0].msg), c.why);
        assert.equal(warnings[0].upstream, url);
      } finally {
        await hf.stop();
        await server.stop();
      }
    });
  }
});

describe('DNS over TLS to an upstream given by host name', () => {
  let server: EncryptedServer;
  let nsd: Nsd;
  before(async () => {
    server = await startUnboundDot({ cert: pki.good });
    nsd = await startNsd([{ name: 'holdfast.test', records: 'dns IN A 127.0.0.1' }]);
  });
  after(async () => {
    await server?.stop();
    await nsd?.stop();
  });

  it('resolves the name through the --bootstrap upstream and verifies the certificate against it', async () => {
    const url = `tls://${TEST_SERVER_NAME}:${server.port}`;
    const hf = await holdfast(url, ['--bootstrap', `udp://127.0.0.1:${nsd.port}`]);
    try {
      assert.deepEqual(addresses(await ask(hf.port, 'named.example.test')), [DOT_ANSWER]);
      assert.ok(hf.logs.some((l) => l.upstream === url && l.address === '127.0.0.1'), 'the address found is logged');
    } finally {
      await hf.stop();
    }
  });

  it('refuses to start with a host name and nothing to resolve it, saying what to do', async () => {
    await assert.rejects(startHoldfast(['--upstream', `tls://${TEST_SERVER_NAME}:${server.port}`]), /give its IP with the certificate name after #/);
  });
});

describe('DNS over HTTPS to dnsdist (HTTP/1.1)', () => {
  let server: EncryptedServer;
  before(async () => {
    server = await startDnsdistDoh({ cert: pki.good, idleTimeoutMs: 1000 });
  });
  after(async () => server?.stop());

  for (const method of ['post', 'get']) {
    it(`answers over ${method.toUpperCase()}, and after the server closes idle connections`, async () => {
      const hf = await holdfast(`https://127.0.0.1:${server.port}/dns-query?method=${method}#${TEST_SERVER_NAME}`);
      try {
        for (const name of ['a.example.test', 'b.example.test']) assert.deepEqual(addresses(await ask(hf.port, `${method}-${name}`)), [DOH_ANSWER]);
        await sleep(2300); // past dnsdist's idle timeout (whole seconds, checked once a second)
        assert.deepEqual(addresses(await ask(hf.port, `${method}-after-idle.example.test`)), [DOH_ANSWER]);
        assert.deepEqual(tlsWarnings(hf), []);
      } finally {
        await hf.stop();
      }
    });
  }

  it('keeps answering while the server restarts under load', async () => {
    const hf = await holdfast(`https://127.0.0.1:${server.port}/dns-query#${TEST_SERVER_NAME}`);
    try {
      const { results, backAt } = await underLoad(hf.port, 'doh-restart', () => server.restart(300));
      assertRecovered(results, backAt, DOH_ANSWER);
    } finally {
      await hf.stop();
    }
  });

  it('refuses a key that matches no pin, and a certificate for another name', async () => {
    const wrongPin = await holdfast(`https://127.0.0.1:${server.port}/dns-query?pin=sha256/${pki.expired.pin}#${TEST_SERVER_NAME}`);
    const wrongName = await holdfast(`https://127.0.0.1:${server.port}/dns-query#other.test`);
    try {
      assert.equal((await ask(wrongPin.port, 'p.example.test')).rcode, 'SERVFAIL');
      assert.equal((await ask(wrongName.port, 'n.example.test')).rcode, 'SERVFAIL');
      assert.match(String(tlsWarnings(wrongPin)[0]?.msg), /matches no pin/);
      assert.match(String(tlsWarnings(wrongName)[0]?.msg), /altnames|NotValidForName|not valid for/i);
    } finally {
      await wrongPin.stop();
      await wrongName.stop();
    }
  });
});
