// #12: the WAN address changes under a running server, as on a PPPoE reconnect. Holdfast runs in
// a "router" namespace joined by a veth link to an "isp" namespace, where unbound serves DNS over
// TLS and dnsdist DNS over HTTPS on the isp side's address. Holdfast warms a connection to each,
// then the router's address is replaced by one in a new subnet (the isp side gets the matching
// gateway address, the router a route through it): the old connections' packets now go nowhere
// (the router no longer owns their source address), so only noticing the change (SIGUSR2, the
// interface watch) or the silence on them gets answers back. A client in the router namespace
// asks a new name every 100 ms from the change on; the time until answers resume is printed.
// Runs in the bun leg only, as root with ip and nft (test/helpers/netns.ts says why).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDnsdistDoh, startUnboundDot, type EncryptedServer } from '../helpers/encrypted-servers.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { createLossyLink, lossyLinkSkipReason, sendQueries, type LossyLink, type QueryResult } from '../helpers/netns.ts';
import { holdfastArgv } from '../helpers/runtime.ts';
import { createTestPki, TEST_SERVER_NAME, type TestPki } from '../helpers/tls-certs.ts';
import { until } from '../helpers/until.ts';

const skip = lossyLinkSkipReason();
if (skip) process.stderr.write(`wan-change.test.ts: skipped: ${skip}\n`);

const TOKEN = 'w4n-t0ken';
const DOT_PORT = 853;
const DOH_PORT = 443;
/** After the change: a new name every GAP_MS, QUERIES of them (10 s in all). */
const GAP_MS = 100;
const QUERIES = 100;
/** Longer than Holdfast's own deadline (--timeout, 4 s), so its silence would be a failure. */
const CLIENT_TIMEOUT_MS = 5000;
/** The last queries of the run, which must all be answered: answers resumed and stayed. */
const TAIL = 30;
const PREFIX_LENGTH = 30;
/** Issue #12's acceptance: answers resume within this long of the change. */
const RESUME_LIMIT_MS = 3000;
/**
 * `encryptedUpstream.silentConnectionMs` (default): before #12 this silence was the only thing
 * that retired a dead connection, so no answer could come back sooner than this after the first
 * query following the change (2.35 s from the change, measured on the build before #12). Answers
 * sooner than this show #12's handling at work, with a wide margin (about 0.1-0.2 s measured).
 */
const SILENT_CONNECTION_MS = 2000;

function run(argv: readonly string[]): string {
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`\`${argv.join(' ')}\` failed (${String(err.stderr || err.message).trim()})`);
  }
}

interface Outcome {
  /** From the change to the first answer (NOERROR) back at the client. */
  readonly resumeMs: number | null;
  /** From the change to the answer from which on every query was answered. */
  readonly steadyMs: number | null;
  /** From the change to the client's first query (starting it in the namespace takes a while). */
  readonly firstSentMs: number;
  readonly answered: number;
  readonly results: readonly QueryResult[];
}

describe('#12 - the WAN address changes under a running server with DoT and DoH upstreams', { skip: skip ?? false }, () => {
  let link: LossyLink | undefined;
  let pki: TestPki | undefined;
  let dot: EncryptedServer | undefined;
  let doh: EncryptedServer | undefined;
  let hf: HoldfastProcess | undefined;
  let dir: string;
  /** The router's address is 198.18.`subnet`.1 (the link's own address while 0). */
  let subnet = 0;
  let batch = 0;
  const routerAddress = (n: number) => (n === 0 ? link!.hostAddress : `198.18.${n}.1`);
  const gatewayAddress = (n: number) => `198.18.${n}.2`;
  const mac = (ns: string, dev: string) => JSON.parse(run(['ip', '-n', ns, '-j', 'link', 'show', dev]))[0].address as string;

  /**
   * The router's WAN address moves to a new subnet, as a PPPoE reconnect gives: the isp side
   * first gets the new gateway address (and a neighbour entry for the router's new one), then
   * the router swaps its address and routes to the servers through the new gateway. The old
   * address is gone: what the old connections send cannot leave, what comes back for them is
   * dropped. Returns the wall-clock time the router's change began.
   */
  function changeWanAddress(): number {
    const l = link!;
    const from = subnet;
    const to = ++subnet;
    run(['ip', '-n', l.upstreamNs, 'addr', 'add', `${gatewayAddress(to)}/${PREFIX_LENGTH}`, 'dev', l.upstreamDevice]);
    run(['ip', '-n', l.upstreamNs, 'neigh', 'replace', routerAddress(to), 'lladdr', mac(l.hostNs, l.hostDevice), 'dev', l.upstreamDevice, 'nud', 'permanent']);
    const routerMac = mac(l.upstreamNs, l.upstreamDevice);
    const at = Date.now();
    run(['ip', '-n', l.hostNs, 'addr', 'del', `${routerAddress(from)}/${PREFIX_LENGTH}`, 'dev', l.hostDevice]);
    run(['ip', '-n', l.hostNs, 'addr', 'add', `${routerAddress(to)}/${PREFIX_LENGTH}`, 'dev', l.hostDevice]);
    run(['ip', '-n', l.hostNs, 'neigh', 'replace', gatewayAddress(to), 'lladdr', routerMac, 'dev', l.hostDevice, 'nud', 'permanent']);
    run(['ip', '-n', l.hostNs, 'route', 'replace', `${l.upstreamAddress}/32`, 'via', gatewayAddress(to), 'dev', l.hostDevice]);
    return at;
  }

  /** holdfast_upstream_connections_total, read with curl inside the router namespace. */
  function connections(): number {
    const text = run(link!.inNs(link!.hostNs, ['curl', '-sS', '-m', '5', '-H', `authorization: Bearer ${TOKEN}`, `http://127.0.0.1:${hf!.httpPort}/metrics`]));
    const m = /^holdfast_upstream_connections_total (\d+)$/m.exec(text);
    assert.ok(m, 'the metric is there');
    return Number(m[1]);
  }

  /** Each name once, `gapMs` apart, from the router namespace. */
  const ask = (names: readonly string[], gapMs: number, label: string): Promise<QueryResult[]> =>
    sendQueries(link!, {
      server: `127.0.0.1:${hf!.port}`,
      timeoutMs: CLIENT_TIMEOUT_MS,
      queries: names.map((name, i) => [i * gapMs, name, null] as const),
      dir,
      label: `${label}-${batch++}`,
    });

  const answered = (r: QueryResult) => r.rcode === 0 && r.latencyMs !== null;

  async function startRouter(extra: string[]): Promise<void> {
    hf = await startHoldfast(
      [
        '--upstream', `tls://${link!.upstreamAddress}:${DOT_PORT}#${TEST_SERVER_NAME}`,
        '--upstream', `https://${link!.upstreamAddress}:${DOH_PORT}/dns-query#${TEST_SERVER_NAME}`,
        '--ca-file', pki!.caFile,
        '--http', '127.0.0.1:0',
        '--http-token', TOKEN,
        ...extra,
      ],
      { argv: link!.inNs(link!.hostNs, holdfastArgv()) },
    );
  }

  /** Distinct names until both upstreams have a connection (each query goes to one of them). */
  async function warm(label: string): Promise<void> {
    for (let round = 0; round < 5 && connections() < 2; round++) {
      const results = await ask(Array.from({ length: 10 }, (_, i) => `warm-${label}-${round}-${i}.example.test`), 50, `warm-${label}`);
      assert.ok(results.every(answered), 'answered before the change');
    }
    assert.ok(connections() >= 2, 'both upstreams connected before the change');
  }

  /** Changes the address (`announce` runs right after), then a new name every GAP_MS. */
  async function measure(label: string, announce: () => void): Promise<Outcome> {
    const changedAt = changeWanAddress();
    announce();
    const results = await ask(Array.from({ length: QUERIES }, (_, i) => `${label}-${i}.example.test`), GAP_MS, label);
    const arrival = (r: QueryResult) => r.sentAtEpochMs! + r.latencyMs! - changedAt;
    const arrivals = results.filter(answered).map(arrival);
    const lastUnanswered = results.findLastIndex((r) => !answered(r));
    const steady = results.slice(lastUnanswered + 1).map(arrival);
    const outcome: Outcome = {
      resumeMs: arrivals.length ? Math.round(Math.min(...arrivals)) : null,
      steadyMs: steady.length ? Math.round(Math.min(...steady)) : null,
      firstSentMs: Math.round(results[0].sentAtEpochMs! - changedAt),
      answered: arrivals.length,
      results,
    };
    console.log(
      `wan-change (${label}): answers resumed ${outcome.resumeMs === null ? 'never (within 10 s)' : `${outcome.resumeMs} ms`} after the address change; ` +
        `every one answered from ${outcome.steadyMs} ms; first query sent at ${outcome.firstSentMs} ms; ${outcome.answered}/${QUERIES} answered`,
    );
    return outcome;
  }

  /**
   * Answers resumed, within the issue's 3 s and sooner than the pre-#12 silence rule allows
   * (generous bounds: about ten times what was measured), and stayed.
   */
  function assertResumedAndStayed(o: Outcome, connectionsBefore: number): void {
    assert.notEqual(o.resumeMs, null, 'answers resumed within the 10 s of queries');
    assert.ok(o.resumeMs! <= RESUME_LIMIT_MS, `answers resumed ${o.resumeMs} ms after the change (at most ${RESUME_LIMIT_MS})`);
    assert.ok(
      o.resumeMs! - o.firstSentMs < SILENT_CONNECTION_MS,
      `the first answer came ${o.resumeMs! - o.firstSentMs} ms after the first query, not sooner than the dead connections' own ${SILENT_CONNECTION_MS} ms`,
    );
    const tail = o.results.slice(-TAIL);
    assert.ok(tail.every(answered), `the last ${TAIL} queries were all answered: ${JSON.stringify(tail.filter((r) => !answered(r)))}`);
    assert.ok(connections() > connectionsBefore, 'new connections were dialled from the new address');
  }

  const changedLines = () => hf!.logs.filter((l) => l.event === 'network-changed');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'holdfast-wan-'));
    link = createLossyLink({ tag: 'hfw' });
    pki = createTestPki();
    dot = await startUnboundDot({ cert: pki.good, netns: { name: link.upstreamNs, address: link.upstreamAddress, port: DOT_PORT } });
    doh = await startDnsdistDoh({ cert: pki.good, netns: { name: link.upstreamNs, address: link.upstreamAddress, port: DOH_PORT } });
  });

  after(async () => {
    await hf?.stop();
    await dot?.stop();
    await doh?.stop();
    pki?.remove();
    link?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('announced by SIGUSR2 (the OpenWrt hotplug script): answers resume', async () => {
    await startRouter(['--network-check-seconds', '0']);
    try {
      await warm('usr2');
      const before = connections();
      const o = await measure('usr2', () => process.kill(hf!.pid, 'SIGUSR2'));
      assertResumedAndStayed(o, before);
      assert.equal(changedLines().length, 1, 'one network-changed line');
      assert.match(String(changedLines()[0].msg), /SIGUSR2/);
    } finally {
      await hf!.stop();
    }
  });

  it('noticed by the interface watch alone (every 5 s, the default; no signal): answers resume', async () => {
    await startRouter([]);
    try {
      await warm('watch');
      const before = connections();
      const o = await measure('watch', () => {});
      assertResumedAndStayed(o, before);
      // The queries took 10 s, twice the watch's interval: it has read the new address by now.
      assert.ok(await until(() => changedLines().length === 1, 1000), 'a network-changed line');
      assert.match(String(changedLines()[0].msg), /interface addresses changed/);
    } finally {
      await hf!.stop();
    }
  });

  it('not told at all (--network-check-seconds 0, no signal): silence on the old connections gets answers back', async () => {
    await startRouter(['--network-check-seconds', '0']);
    try {
      await warm('silent');
      const before = connections();
      const o = await measure('silent', () => {});
      assertResumedAndStayed(o, before);
      assert.equal(changedLines().length, 0, 'nothing noticed the change');
    } finally {
      await hf!.stop();
    }
  });
});
