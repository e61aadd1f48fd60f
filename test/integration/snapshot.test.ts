// The cache file through real processes: names resolved from a real NSD are still answered
// after a restart with no working upstream; a damaged file is set aside and the server starts;
// a file from a clock ahead of ours gives only stale answers; SIGUSR1 writes on request.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanMessage, toStored } from '../../src/core/wire/message.ts';
import { parseQuery } from '../../src/core/wire/query.ts';
import { decodeSnapshot, encodeSnapshot } from '../../src/services/snapshot/format.ts';
import { dig, udpExchange } from '../helpers/dns-client.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';
import { decode, query, reply } from '../helpers/packets.ts';
import { until } from '../helpers/until.ts';

const ZONE = {
  name: 'snap.test',
  ttl: 300,
  soaMinimum: 60,
  records: ['www IN A 192.0.2.10', 'short 1 IN A 192.0.2.11', 'mail IN A 192.0.2.12'].join('\n'),
};

/** An upstream that takes every query and answers none: the uplink is gone. */
async function blackhole(): Promise<{ url: string; close(): Promise<void> }> {
  const s = dgram.createSocket('udp4');
  s.on('message', () => {});
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { url: `udp://127.0.0.1:${s.address().port}`, close: () => new Promise<void>((r) => s.close(() => r())) };
}

const logsLike = (hf: HoldfastProcess, re: RegExp) => hf.logs.filter((l) => re.test(String(l.msg)));

describe('cache file across restarts', () => {
  let nsd: Nsd;
  let dead: Awaited<ReturnType<typeof blackhole>>;
  let dir: string;
  const running: HoldfastProcess[] = [];
  const start = async (args: string[]) => {
    const hf = await startHoldfast(args);
    running.push(hf);
    return hf;
  };
  before(async () => {
    nsd = await startNsd([ZONE]);
    dead = await blackhole();
    dir = mkdtempSync(join(tmpdir(), 'holdfast-snap-'));
  });
  after(async () => {
    for (const hf of running) await hf.stop('SIGKILL');
    await nsd?.stop();
    await dead?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers names it resolved before a SIGTERM from the file, with no working upstream', async () => {
    const file = join(dir, 'restart.snap');
    const first = await start(['--upstream', `udp://127.0.0.1:${nsd.port}`, '--cache-file', file]);
    for (const name of ['www.snap.test', 'short.snap.test', 'nope.snap.test']) {
      const r = await dig(first.port, [name, 'A']);
      assert.match(r.stdout, /status: (NOERROR|NXDOMAIN)/, r.stdout);
    }
    assert.equal(existsSync(file), false, 'nothing written yet: the interval is 15 min and SIGTERM has not come');
    const stopped = await first.stop('SIGTERM');
    assert.equal(stopped.code, 0);
    assert.equal(logsLike(first, /cache snapshot written \(shutdown\): 3 entries/).length, 1, first.stderr());
    assert.equal(decodeSnapshot(new Uint8Array(readFileSync(file))).entries.length, 3);

    // short.snap.test (TTL 1) expires in the meantime.
    await new Promise((r) => setTimeout(r, 1_200));
    const second = await start(['--upstream', dead.url, '--cache-file', file, '--timeout', '800', '--log-level', 'debug']);
    // The file loads while the listeners open (#11): wait for it before asking.
    assert.ok(await until(() => logsLike(second, /cache restored/).length === 1), second.stderr());
    const restored = logsLike(second, /cache restored/);
    assert.equal(restored.length, 1, second.stderr());
    assert.equal(restored[0].restored, 3);

    const www = await dig(second.port, ['www.snap.test', 'A', '+noall', '+answer', '+comments']);
    assert.match(www.stdout, /status: NOERROR/);
    const ttl = Number(/www\.snap\.test\.\s+(\d+)\s+IN\s+A\s+192\.0\.2\.10/.exec(www.stdout)?.[1]);
    assert.ok(ttl > 200 && ttl <= 300, `a fresh answer with its TTL counted down, got:\n${www.stdout}`);
    const short = await dig(second.port, ['short.snap.test', 'A', '+noall', '+answer', '+comments']);
    assert.match(short.stdout, /status: NOERROR/);
    assert.match(short.stdout, /short\.snap\.test\.\s+30\s+IN\s+A\s+192\.0\.2\.11/, 'stale, with TTL 30');
    const nope = await dig(second.port, ['nope.snap.test', 'A']);
    assert.match(nope.stdout, /status: NXDOMAIN/);
    // The upstream really is gone: a name the file lacks fails.
    const never = await dig(second.port, ['mail.snap.test', 'A']);
    assert.match(never.stdout, /status: SERVFAIL/);
    await until(() => second.logs.filter((l) => l.msg === 'query').length >= 4);
    const sources = Object.fromEntries(second.logs.filter((l) => l.msg === 'query').map((l) => [l.name, l.source]));
    assert.equal(sources['www.snap.test.'], 'cache-fresh');
    assert.equal(sources['nope.snap.test.'], 'negative');
  });

  it('sets a damaged file aside with one warning and starts with an empty cache', async () => {
    const file = join(dir, 'damaged.snap');
    const good = encodeSnapshot([], Date.now());
    const damaged = new Uint8Array(good.length + 40);
    damaged.set(good);
    writeFileSync(file, damaged);
    const hf = await start(['--upstream', `udp://127.0.0.1:${nsd.port}`, '--cache-file', file]);
    assert.ok(await until(() => hf.logs.some((l) => l.level === 'warn')), hf.stderr());
    const warnings = hf.logs.filter((l) => l.level === 'warn');
    assert.equal(warnings.length, 1, hf.stderr());
    assert.match(String(warnings[0].msg), /set aside \(truncated/);
    const aside = readdirSync(dir).filter((f) => f.startsWith('damaged.snap.bad-'));
    assert.equal(aside.length, 1);
    assert.equal(warnings[0].movedTo, join(dir, aside[0]));
    assert.deepEqual([...readFileSync(join(dir, aside[0]))], [...damaged], 'moved, not rewritten');
    assert.equal(existsSync(file), false);
    const r = await dig(hf.port, ['www.snap.test', 'A', '+short']);
    assert.equal(r.stdout.trim(), '192.0.2.10');
    // The next write makes a good file under the old name.
    process.kill(hf.pid, 'SIGUSR1');
    assert.ok(await until(() => logsLike(hf, /cache snapshot written \(request\)/).length === 1), hf.stderr());
    assert.equal(decodeSnapshot(new Uint8Array(readFileSync(file))).entries.length, 1);
  });

  it('serves entries from a file written by a clock ahead of ours only as stale (TTL 30)', async () => {
    const file = join(dir, 'future.snap');
    const q = query('www.snap.test', 'A', { id: 0x4242 });
    const parsed = parseQuery(q);
    assert.ok(parsed.ok);
    const bytes = reply(q, { answers: [{ type: 'A', name: 'www.snap.test', ttl: 86_400, class: 'IN', data: '192.0.2.77' }] });
    const scanned = scanMessage(bytes);
    assert.ok(typeof scanned !== 'string');
    // As if written by a router whose clock ran ten years ahead; ours now reads "behind" it.
    const future = Date.now() + 10 * 365 * 86_400_000;
    writeFileSync(
      file,
      encodeSnapshot(
        [{ key: parsed.query.key, message: toStored(bytes, scanned, 86_400), storedAtMs: future, expiresAtMs: future + 86_400_000, popularity: 1, popularityAtMs: future }],
        future,
      ),
    );
    const hf = await start(['--upstream', dead.url, '--cache-file', file, '--timeout', '800']);
    assert.ok(await until(() => logsLike(hf, /cache restored/).length === 1), hf.stderr());
    assert.equal(logsLike(hf, /cache restored/)[0]?.stale, 1, hf.stderr());
    assert.equal(logsLike(hf, /clock is behind/).length, 1);
    const r = await udpExchange(hf.port, q, 3000);
    assert.ok(r, 'no answer');
    const d = decode(r);
    assert.equal(d.rcode, 'NOERROR');
    assert.equal(d.answers[0].data, '192.0.2.77');
    assert.equal(d.answers[0].ttl, 30, 'never fresh with a TTL of unknown age');
  });
});
