// The command line as a user meets it: mistakes get one clear line on stderr and a non-zero
// exit, --help works everywhere, `holdfast query` reads like dig, signals stop it cleanly, and
// with no --upstream it uses resolv.conf or says how to set one.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tcpExchange, udpExchange } from '../helpers/dns-client.ts';
import { plans, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { until } from '../helpers/until.ts';
import { startHoldfast, runHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { encodeSnapshot } from '../../src/services/snapshot/format.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';
import { decode, query } from '../helpers/packets.ts';
import { freePort } from '../helpers/ports.ts';
import { runtimeName } from '../helpers/runtime.ts';

const bigTxt = Array.from({ length: 8 }, (_, i) => `big IN TXT "${String(i).repeat(80)}"`).join('\n');

/** stderr's non-empty lines. */
const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

/** Asserts a usage mistake: non-zero exit and exactly one stderr line matching every pattern. */
function assertOneLineError(r: { code: number | null; stdout: string; stderr: string }, ...patterns: RegExp[]): void {
  assert.notEqual(r.code, 0, 'exited 0');
  assert.notEqual(r.code, null, 'killed, not exited');
  const l = lines(r.stderr);
  assert.equal(l.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  for (const p of patterns) assert.match(l[0], p);
}

describe('holdfast CLI: mistakes', () => {
  it('names an unknown flag to serve', async () => {
    assertOneLineError(await runHoldfast(['serve', '--upstream', 'udp://127.0.0.1:53', '--bogus-flag', '1']), /--bogus-flag/);
  });

  it('names an unknown flag to query', async () => {
    assertOneLineError(await runHoldfast(['query', 'example.test', '--nope']), /--nope/);
  });

  it('names an unknown command', async () => {
    assertOneLineError(await runHoldfast(['serv']), /"serv"/, /serve/);
  });

  it('names a flag with a value that is not a number', async () => {
    assertOneLineError(await runHoldfast(['serve', '--upstream', 'udp://127.0.0.1:53', '--cache-size', 'lots']), /--cache-size/, /lots/);
  });

  it('names a bad --allow prefix and exits 2', async () => {
    const r = await runHoldfast(['serve', '--upstream', 'udp://127.0.0.1:53', '--allow', '192.168.1.0/33']);
    assert.equal(r.code, 2);
    assertOneLineError(r, /--allow/, /192\.168\.1\.0\/33/);
  });

  it('names --cache-memory and its value when it is not a size, and the key when it is too small', async () => {
    assertOneLineError(await runHoldfast(['serve', '--upstream', 'udp://127.0.0.1:53', '--cache-memory', '16MB']), /--cache-memory/, /"16MB"/, /16M/);
    assertOneLineError(await runHoldfast(['serve', '--upstream', 'udp://127.0.0.1:53', '--cache-memory', '1K']), /cache\.maxBytes/, /1024/);
  });

  for (const args of [
    ['serve', '--listen', '127.0.0.1:0', '--upstream'],
    ['serve', '--upstream', '--listen', '127.0.0.1:0'],
    ['serve', '--upstream', 'udp://127.0.0.1:53', '--listen'],
    ['query', 'example.test', '--server'],
  ]) {
    it(`says a flag needs a value: ${args.join(' ')}`, async () => {
      const flag = args.find((a, i) => a.startsWith('--') && (i + 1 === args.length || args[i + 1].startsWith('--')))!;
      assertOneLineError(await runHoldfast(args), new RegExp(`${flag} needs a value`));
    });
  }

  it('names a record type holdfast query does not know, before sending anything', async () => {
    assertOneLineError(await runHoldfast(['query', 'example.test', 'BOGUS', '--server', '127.0.0.1:9', '--timeout', '200']), /"BOGUS" is not a record type/);
  });

  for (const url of ['foo://192.0.2.1', 'udp://dns.example', 'udp://192.0.2.1:99999', '192.0.2.1']) {
    it(`rejects the upstream URL "${url}" in one line`, async () => {
      const r = await runHoldfast(['serve', '--listen', '127.0.0.1:0', '--upstream', url]);
      assertOneLineError(r, new RegExp(url.replace(/[.:/]/g, '\\$&')), /udp:\/\/IP/);
    });
  }

  for (const taken of ['udp', 'tcp'] as const) {
    it(`says the port is in use when its ${taken.toUpperCase()} side is taken`, async () => {
      const port = await freePort();
      let release: () => Promise<void>;
      if (taken === 'udp') {
        const s = dgram.createSocket('udp4');
        await new Promise<void>((r) => s.bind(port, '127.0.0.1', () => r()));
        release = () => new Promise<void>((r) => s.close(() => r()));
      } else {
        const s = net.createServer();
        await new Promise<void>((r) => s.listen(port, '127.0.0.1', () => r()));
        release = () => new Promise<void>((r) => s.close(() => r()));
      }
      try {
        const r = await runHoldfast(['serve', '--listen', `127.0.0.1:${port}`, '--upstream', 'udp://127.0.0.1:53']);
        assertOneLineError(r, new RegExp(`127\\.0\\.0\\.1:${port}`), /in use/);
      } finally {
        await release();
      }
    });
  }
});

describe('holdfast CLI: version and help', () => {
  it('prints its version and runtime', async () => {
    const r = await runHoldfast(['version']);
    assert.equal(r.code, 0, r.stderr);
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    assert.match(r.stdout.trim(), new RegExp(`^holdfast ${version.replace(/\./g, '\\.')} \\(${runtimeName} \\d+\\.\\d+\\.\\d+`));
  });

  it('prints usage for --help, naming every command', async () => {
    for (const args of [['--help'], []]) {
      const r = await runHoldfast(args);
      assert.equal(r.code, 0, r.stderr);
      for (const c of ['serve', 'query', 'snapshot', 'version']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`), `${args}: ${c}`);
    }
  });

  const flagsByCommand: Record<string, string[]> = {
    serve: ['--listen', '--upstream', '--cache-size', '--cache-memory', '--timeout', '--tcp-idle-timeout', '--tcp-max-connections', '--log-level', '--log-format', '--cache-file', '--snapshot-interval', '--snapshot-min-changes'],
    query: ['--server', '--tcp', '--timeout'],
    snapshot: ['ACTION', 'FILE'],
    version: [],
  };
  for (const [command, flags] of Object.entries(flagsByCommand)) {
    it(`prints usage for ${command} --help`, async () => {
      const r = await runHoldfast([command, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /USAGE/i);
      assert.match(r.stdout, new RegExp(command));
      for (const f of flags) assert.match(r.stdout, new RegExp(`${f}\\b`), `${command} --help lacks ${f}`);
    });
  }
});

describe('holdfast snapshot inspect', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'holdfast-inspect-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the version, creation time and age, entry count and size of a whole file', async () => {
    const file = join(dir, 'good.snap');
    const createdAtMs = Date.now() - 3_725_000;
    const bytes = encodeSnapshot([], createdAtMs);
    writeFileSync(file, bytes);
    const r = await runHoldfast(['snapshot', 'inspect', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^version\s+2$/m);
    assert.match(r.stdout, new RegExp(`^created at\\s+${new Date(createdAtMs).toISOString().replace(/\./g, '\\.')} \\(1 h 2 min ago\\)$`, 'm'));
    assert.match(r.stdout, /^entries\s+0$/m);
    assert.match(r.stdout, new RegExp(`^size\\s+${bytes.length} bytes$`, 'm'));
    assert.equal(r.stderr, '');
  });

  it('names the problem of a bad file and exits 1', async () => {
    const bytes = encodeSnapshot([], Date.now());
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['cut.snap', bytes.subarray(0, 20), /truncated/],
      ['flipped.snap', Uint8Array.from(bytes, (b, i) => (i === 10 ? b ^ 1 : b)), /checksum mismatch/],
      ['text.snap', new TextEncoder().encode('nameserver 192.0.2.1\n'.repeat(3)), /not a Holdfast snapshot/],
    ];
    for (const [name, content, problem] of cases) {
      writeFileSync(join(dir, name), content);
      const r = await runHoldfast(['snapshot', 'inspect', join(dir, name)]);
      assert.equal(r.code, 1, `${name}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.equal(lines(r.stderr).length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`${name}: snapshot: `));
      assert.match(r.stderr, problem);
    }
    const missing = await runHoldfast(['snapshot', 'inspect', join(dir, 'absent.snap')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /absent\.snap: no such file/);
  });

  it('calls a missing FILE or an unknown action a usage mistake (exit 2)', async () => {
    for (const [args, pattern] of [
      [['snapshot', 'inspect'], /needs a FILE/],
      [['snapshot', 'frobnicate', 'x.snap'], /unknown action "frobnicate"/],
      [['snapshot'], /ACTION/],
    ] as const) {
      const r = await runHoldfast([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assertOneLineError(r, pattern);
    }
  });
});

describe('holdfast query against a running holdfast', () => {
  let nsd: Nsd;
  let hf: HoldfastProcess;
  before(async () => {
    nsd = await startNsd([{ name: 'example.test', records: ['www IN A 192.0.2.10', bigTxt].join('\n') }]);
    hf = await startHoldfast(['--upstream', `udp://127.0.0.1:${nsd.port}`]);
  });
  after(async () => {
    await hf?.stop();
    await nsd?.stop();
  });

  it('prints the answer the way dig does', async () => {
    const r = await runHoldfast(['query', 'www.example.test', 'A', '--server', `127.0.0.1:${hf.port}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /->>HEADER<<- opcode: QUERY, status: NOERROR, id: \d+/);
    assert.match(r.stdout, /flags: qr rd ra; QUERY: 1, ANSWER: 1,/);
    assert.match(r.stdout, /;; ANSWER SECTION:\nwww\.example\.test\.\t\d+\tIN\tA\t192\.0\.2\.10\n/);
    assert.match(r.stdout, new RegExp(`;; SERVER: 127\\.0\\.0\\.1#${hf.port}\\(udp\\)`));
  });

  it('asks over TCP with --tcp', async () => {
    const r = await runHoldfast(['query', 'www.example.test', '--tcp', '--server', `127.0.0.1:${hf.port}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\tA\t192\.0\.2\.10/);
    assert.match(r.stdout, /\(tcp\)/);
  });

  it('prints NXDOMAIN with the SOA for a name that does not exist', async () => {
    const r = await runHoldfast(['query', 'nothing.example.test', 'A', '--server', `127.0.0.1:${hf.port}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /status: NXDOMAIN/);
    assert.match(r.stdout, /;; AUTHORITY SECTION:\nexample\.test\.\t\d+\tIN\tSOA\t/);
  });

  it('retries over TCP when the UDP reply is truncated', async () => {
    const r = await runHoldfast(['query', 'big.example.test', 'TXT', '--no-edns', '--server', `127.0.0.1:${hf.port}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Truncated, retrying in TCP mode/);
    assert.match(r.stdout, /ANSWER: 8,/);
  });
});

describe('holdfast serve: signals', () => {
  let hf: HoldfastProcess | null = null;
  after(async () => {
    await hf?.stop('SIGKILL');
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`exits 0 on ${signal}, with a TCP client connected`, async () => {
      hf = await startHoldfast(['--upstream', 'udp://127.0.0.1:9']);
      // An idle client connection must not hold the process open.
      const idle = tcpExchange(hf.port, [], 1, { timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 100));
      const r = await hf.stop(signal, 10_000);
      assert.deepEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null }, hf.stderr());
      assert.ok(hf.logs.some((l) => typeof l.msg === 'string' && l.msg.includes(signal)), `no log line for ${signal}`);
      assert.equal((await idle).closedByServer, true);
      hf = null;
    });
  }
});

describe('holdfast serve: stopping with queries in flight', () => {
  let fake: FakeUpstream;
  let hf: HoldfastProcess | null = null;
  before(async () => {
    fake = await startFakeUpstream({ defaultPlan: plans.drop() });
  });
  after(async () => {
    await hf?.stop('SIGKILL');
    await fake?.close();
  });

  it('answers a query already on its way before exiting on SIGTERM, and takes no new ones', async () => {
    fake.plan('slow.stop.test', plans.delay(400));
    hf = await startHoldfast(['--upstream', fake.url.udp]);
    const port = hf.port;
    const answer = udpExchange(port, query('slow.stop.test'), 5_000);
    assert.ok(await until(() => fake.count('slow.stop.test') >= 1), 'the query did not reach the upstream');
    const stopped = hf.stop('SIGTERM', 10_000);
    const reply = await answer;
    assert.ok(reply, `the answer in flight was lost at shutdown: ${hf.stderr()}`);
    assert.equal(decode(reply).rcode, 'NOERROR');
    const r = await stopped;
    assert.deepEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null }, hf.stderr());
    hf = null;
  });

  it('exits 0 on SIGTERM while upstream queries are still waiting', async () => {
    hf = await startHoldfast(['--upstream', fake.url.udp, '--timeout', '30000']);
    for (let i = 0; i < 10; i++) void udpExchange(hf.port, query(`n${i}.stop.test`), 100);
    const reached = () => new Set(fake.received.map((r) => r.name).filter((n) => /^n\d\.stop\.test$/.test(n))).size;
    assert.ok(await until(() => reached() === 10), `${reached()} of 10 queries reached the upstream`);
    const r = await hf.stop('SIGTERM', 10_000);
    assert.deepEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null }, hf.stderr());
    hf = null;
  });
});

describe('holdfast serve without --upstream', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'holdfast-cli-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start when resolv.conf does not exist, saying how to set an upstream', async () => {
    const r = await runHoldfast(['serve', '--listen', '127.0.0.1:0'], 20_000, { HOLDFAST_RESOLV_CONF: join(dir, 'missing.conf') });
    assertOneLineError(r, /--upstream udp:\/\//, /nameserver/);
  });

  it('refuses to start when resolv.conf has no nameserver line', async () => {
    const path = join(dir, 'empty.conf');
    writeFileSync(path, '# nothing here\nsearch example.test\noptions ndots:1\n');
    const r = await runHoldfast(['serve', '--listen', '127.0.0.1:0'], 20_000, { HOLDFAST_RESOLV_CONF: path });
    assertOneLineError(r, /--upstream/);
  });

  it('forwards to the nameservers in resolv.conf', async () => {
    const path = join(dir, 'resolv.conf');
    // Documentation addresses (RFC 5737, 3849); no query is sent to them.
    writeFileSync(path, '# a comment\nnameserver 192.0.2.53\nsearch example.test\nnameserver 2001:db8::53 # trailing comment\n');
    const hf = await startHoldfast([], { env: { HOLDFAST_RESOLV_CONF: path } });
    try {
      const from = hf.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('using upstreams from'));
      assert.equal(from?.msg, `using upstreams from ${path}`);
      // Logged just after the listeners, so it may reach us a moment after the start is seen.
      const forwarding = () => hf.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('forwarding'));
      await until(() => forwarding() !== undefined, 5000);
      const line = forwarding();
      assert.deepEqual(line?.upstreams, ['udp://192.0.2.53:53', 'udp://[2001:db8::53]:53']);
    } finally {
      await hf.stop();
    }
  });
});
