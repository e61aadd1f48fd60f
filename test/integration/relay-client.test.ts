// `holdfast serve --upstream relay+http(s)://…` as a real process, asked by dig, in front of
// a real `holdfast relay` process that resolves through a real NSD; relay+https through a real
// TLS terminator (stunnel, as a relay put behind TLS would be). Fakes (an HTTP server in this
// process) stand in for relays that misbehave: another protocol version, failed items.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeRelayRequest, DEFAULT_RELAY_LIMITS, encodeRelayInfo, encodeRelayResponse, type RelayResultItem } from '../../src/protocols/relay-v1.ts';
import { dig, udpExchange } from '../helpers/dns-client.ts';
import { runHoldfast, startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';
import { decode, query, reply } from '../helpers/packets.ts';
import { accepting, freePort } from '../helpers/ports.ts';
import { startCountingListener, startFakeProxy, startTinyproxy } from '../helpers/proxies.ts';
import { startRelay, type RelayProcess } from '../helpers/relay-process.ts';
import { until } from '../helpers/until.ts';
import { createTestPki, TEST_SERVER_NAME, type TestPki } from '../helpers/tls-certs.ts';

const STUNNEL = ['/usr/bin/stunnel4', '/usr/bin/stunnel'].find((p) => existsSync(p)) ?? null;
const TOKEN = 'tok-relay-1';

async function metric(hf: HoldfastProcess, name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${hf.httpPort}/metrics`);
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is exported`);
  return Number(line.slice(name.length + 1));
}

const addresses = (out: string) => out.trim().split('\n').filter(Boolean);

/** stunnel in the foreground: TLS on a free port, plain TCP to `to`. */
async function startStunnel(pki: TestPki, to: number): Promise<{ port: number; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-stunnel-'));
  const port = await freePort();
  const conf = join(dir, 'stunnel.conf');
  writeFileSync(conf, ['foreground = yes', 'pid =', 'debug = 3', '[relay]', `accept = 127.0.0.1:${port}`, `connect = 127.0.0.1:${to}`, `cert = ${pki.good.cert}`, `key = ${pki.good.key}`, ''].join('\n'));
  const child: ChildProcess = spawn(STUNNEL!, [conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 150 && child.exitCode === null; i++) {
    if (await accepting(port)) return { port, stop };
    await new Promise((r) => setTimeout(r, 20));
  }
  await stop();
  throw new Error(`stunnel did not start:\n${err}`);
}

describe('relay client against holdfast relay (real processes, real NSD)', () => {
  let nsd: Nsd;
  let relay: RelayProcess;
  let upstream: string;
  before(async () => {
    nsd = await startNsd([{ name: 'relay.test', records: 'www IN A 192.0.2.41\nshort 1 IN A 192.0.2.60\n* IN A 192.0.2.50' }]);
    relay = await startRelay(['--upstream', `udp://127.0.0.1:${nsd.port}`, '--relay-token', TOKEN]);
    upstream = `relay+http://127.0.0.1:${relay.port}`;
  });
  after(async () => {
    await relay?.stop();
    await nsd?.stop();
  });

  it('answers dig through the relay, and a burst of misses travels in a few batches', async () => {
    const hf = await startHoldfast(['--upstream', upstream, '--relay-token', TOKEN, '--relay-batch-ms', '50', '--http', '0']);
    try {
      const r = await dig(hf.port, ['+short', 'www.relay.test', 'A']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(addresses(r.stdout), ['192.0.2.41']);

      const before = await metric(hf, 'holdfast_relay_batches_total');
      const names = Array.from({ length: 40 }, (_, i) => `burst-${i}.relay.test`);
      const replies = await Promise.all(names.map((n, i) => udpExchange(hf.port, query(n, 'A', { id: i + 1 }), 5000)));
      replies.forEach((b, i) => {
        assert.ok(b, `${names[i]} answered`);
        assert.deepEqual(decode(b).answers?.map((a) => a.data), ['192.0.2.50'], names[i]);
      });
      const batches = (await metric(hf, 'holdfast_relay_batches_total')) - before;
      const items = await metric(hf, 'holdfast_relay_items_total');
      assert.ok(items >= 41, `${items} questions went to the relay`);
      // 40 questions within one 50 ms window, at most 32 a batch: two requests, a few more if
      // the machine is slow to read them; never one each.
      assert.ok(batches >= 2 && batches <= 10, `${batches} batches for 40 misses`);
      assert.equal(await metric(hf, 'holdfast_relay_item_errors_total'), 0);
    } finally {
      await hf.stop();
    }
  });

  it('require (the default): a wrong token stops the start, naming the relay and the 401', async () => {
    const r = await runHoldfast(['serve', '--listen', '127.0.0.1:0', '--upstream', upstream, '--relay-token', 'wrong']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /relay\+http:\/\/127\.0\.0\.1:\d+ fails its info check: \/v1\/info answered HTTP 401: the token is not accepted/);
  });

  it('warn: starts with a wrong token, logs why, and answers SERVFAIL rather than anything else', async () => {
    const hf = await startHoldfast(['--upstream', upstream, '--relay-token', 'wrong', '--relay-info-check', 'warn']);
    try {
      assert.ok(hf.logs.some((l) => l.level === 'warn' && /fails its info check.*used anyway/.test(String(l.message ?? l.msg))), hf.stderr());
      const r = await dig(hf.port, ['www.relay.test', 'A']);
      assert.match(r.stdout, /status: SERVFAIL/);
    } finally {
      await hf.stop();
    }
  });

  it('SIGHUP: a relay that fails its check is refused and the running upstream keeps answering', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'holdfast-relay-hup-'));
    const file = join(dir, 'holdfast.toml');
    const write = (token: string) => writeFileSync(file, `upstreams = ["${upstream}?token=${token}"]\n`);
    write(TOKEN);
    const hf = await startHoldfast(['--config', file]);
    try {
      assert.deepEqual(addresses((await dig(hf.port, ['+short', 'hup1.relay.test', 'A'])).stdout), ['192.0.2.50']);
      write('wrong');
      process.kill(hf.pid, 'SIGHUP');
      await until(() => hf.logs.some((l) => JSON.stringify(l).includes('new configuration refused')), 5000);
      assert.match(JSON.stringify(hf.logs.find((l) => JSON.stringify(l).includes('new configuration refused'))), /HTTP 401/);
      assert.deepEqual(addresses((await dig(hf.port, ['+short', 'hup2.relay.test', 'A'])).stdout), ['192.0.2.50']);
    } finally {
      await hf.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serve-stale holds through a relay: with the relay gone, an expired name is answered from the cache with TTL 30', async () => {
    const own = await startRelay(['--upstream', `udp://127.0.0.1:${nsd.port}`]);
    const hf = await startHoldfast(['--upstream', `relay+http://127.0.0.1:${own.port}`, '--timeout', '1000']);
    try {
      const first = await dig(hf.port, ['short.relay.test', 'A', '+noall', '+answer']);
      assert.match(first.stdout, /short\.relay\.test\.\s+1\s+IN\s+A\s+192\.0\.2\.60/);
      await own.stop();
      await new Promise((r) => setTimeout(r, 1500));
      const later = await dig(hf.port, ['short.relay.test', 'A', '+noall', '+answer', '+comments']);
      assert.match(later.stdout, /status: NOERROR/);
      assert.match(later.stdout, /short\.relay\.test\.\s+30\s+IN\s+A\s+192\.0\.2\.60/);
      const never = await dig(hf.port, ['never-cached.relay.test', 'A']);
      assert.match(never.stdout, /status: SERVFAIL/);
    } finally {
      await hf.stop();
      await own.stop();
    }
  });

  describe('through an HTTP proxy (--proxy)', () => {
    it('relay+http goes through the CONNECT tunnel, not around it', async () => {
      const proxy = await startTinyproxy({ connectPorts: [relay.port] });
      const hf = await startHoldfast(['--upstream', `${upstream}?token=${TOKEN}`, '--proxy', `http://127.0.0.1:${proxy.port}`]);
      try {
        assert.deepEqual(addresses((await dig(hf.port, ['+short', 'proxied.relay.test', 'A'])).stdout), ['192.0.2.50']);
        assert.match(proxy.log(), new RegExp(`CONNECT 127\\.0\\.0\\.1:${relay.port} HTTP/1\\.1`));
      } finally {
        await hf.stop();
        await proxy.stop();
      }
    });

    it('a proxy that refuses (407) means SERVFAIL and the reason logged, and no connection to the relay', async () => {
      const proxy = await startFakeProxy('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
      const target = await startCountingListener();
      const hf = await startHoldfast(['--upstream', `relay+http://127.0.0.1:${target.port}`, '--proxy', `http://127.0.0.1:${proxy.port}`]);
      try {
        const r = await dig(hf.port, ['refused.relay.test', 'A']);
        assert.match(r.stdout, /status: SERVFAIL/);
        assert.ok(hf.logs.some((l) => /refused CONNECT to 127\.0\.0\.1:\d+: 407/.test(String(l.message ?? l.msg))), hf.stderr());
        assert.equal(target.connections, 0);
        assert.ok(proxy.requests.length > 0, 'the proxy was asked');
      } finally {
        await hf.stop();
        await target.close();
        await proxy.close();
      }
    });
  });

  describe('relay+https through a TLS terminator', { skip: STUNNEL ? false : 'stunnel is not installed (apt-get install stunnel4)' }, () => {
    let pki: TestPki;
    let front: { port: number; stop: () => Promise<void> };
    before(async () => {
      pki = createTestPki();
      front = await startStunnel(pki, relay.port);
    });
    after(async () => {
      await front?.stop();
      pki?.remove();
    });

    it('verifies the certificate against --ca-file and answers, with the token in the URL', async () => {
      const hf = await startHoldfast(['--upstream', `relay+https://127.0.0.1:${front.port}?token=${TOKEN}#${TEST_SERVER_NAME}`, '--ca-file', pki.caFile]);
      try {
        const r = await dig(hf.port, ['+short', 'tls-name.relay.test', 'A']);
        assert.deepEqual(addresses(r.stdout), ['192.0.2.50']);
      } finally {
        await hf.stop();
      }
    });

    it('refuses a certificate it cannot verify: no plain fallback, SERVFAIL, the reason logged', async () => {
      const hf = await startHoldfast(['--upstream', `relay+https://127.0.0.1:${front.port}?token=${TOKEN}#${TEST_SERVER_NAME}`]);
      try {
        const r = await dig(hf.port, ['unverified.relay.test', 'A']);
        assert.match(r.stdout, /status: SERVFAIL/);
        assert.ok(hf.logs.some((l) => /TLS connection to relay\+https/.test(String(l.message ?? l.msg))), hf.stderr());
      } finally {
        await hf.stop();
      }
    });
  });
});

describe('relay client against misbehaving relays (an HTTP server in the test)', () => {
  let server: http.Server;
  let port: number;
  let version = 1;
  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.url === '/v1/info') {
          res.end(version === 1 ? encodeRelayInfo(DEFAULT_RELAY_LIMITS, false) : JSON.stringify({ v: version, limits: DEFAULT_RELAY_LIMITS, auth_required: false }));
          return;
        }
        // Answers good.* and fails the rest, item by item.
        const batch = decodeRelayRequest(new Uint8Array(Buffer.concat(chunks)));
        const items = batch.items.map((i): RelayResultItem => {
          const name = decode(i.q!).questions[0].name;
          return name.startsWith('good.')
            ? { id: i.id, ok: true, a: reply(i.q!, { answers: [{ type: 'A', name, ttl: 60, class: 'IN', data: '192.0.2.99' }] }) }
            : { id: i.id, ok: false, err: 'upstream_error' };
        });
        res.end(encodeRelayResponse({ id: batch.id, items }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('a relay that speaks another version is refused at start (require)', async () => {
    version = 2;
    try {
      const r = await runHoldfast(['serve', '--listen', '127.0.0.1:0', '--upstream', `relay+http://127.0.0.1:${port}`]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /relay speaks version 2, this client 1/);
    } finally {
      version = 1;
    }
  });

  it('partial success: the failed item is SERVFAIL for its client alone; the other is answered', async () => {
    const hf = await startHoldfast(['--upstream', `relay+http://127.0.0.1:${port}`, '--relay-batch-ms', '50']);
    try {
      const [good, bad] = await Promise.all([dig(hf.port, ['+short', 'good.fake.test', 'A']), dig(hf.port, ['bad.fake.test', 'A'])]);
      assert.deepEqual(addresses(good.stdout), ['192.0.2.99']);
      assert.match(bad.stdout, /status: SERVFAIL/);
    } finally {
      await hf.stop();
    }
  });
});
