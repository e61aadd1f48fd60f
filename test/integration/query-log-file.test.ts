// The query log file through a real process: queries answered from a real NSD show up in the
// file as JSON lines, and a small size bound rotates the file to PATH.1.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dig } from '../helpers/dns-client.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';
import { until } from '../helpers/until.ts';

const ZONE = { name: 'qlog.test', records: Array.from({ length: 16 }, (_, i) => `h${i} IN A 192.0.2.${i + 1}`).join('\n') };

const linesOf = (p: string) =>
  existsSync(p)
    ? readFileSync(p, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, string>)
    : [];

describe('query log file', () => {
  let nsd: Nsd;
  let dir: string;
  let hf: HoldfastProcess | null = null;
  before(async () => {
    nsd = await startNsd([ZONE]);
    dir = mkdtempSync(join(tmpdir(), 'holdfast-qlog-'));
  });
  after(async () => {
    await hf?.stop('SIGKILL');
    await nsd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes answered queries as JSON lines and rotates the file past its size', async () => {
    const file = join(dir, 'queries.log');
    // No --query-log: the file alone turns recording on.
    hf = await startHoldfast(['--upstream', `udp://127.0.0.1:${nsd.port}`, '--query-log-file', file, '--query-log-max-bytes', '1K', '--query-log-files', '2']);
    const r = await dig(hf.port, ['h0.qlog.test', 'A', '+short']);
    assert.equal(r.stdout.trim(), '192.0.2.1');
    // Written within the flush interval, while running.
    assert.ok(await until(() => linesOf(file).some((l) => l.name === 'h0.qlog.test.')), `not written: ${hf.stderr()}`);
    const first = linesOf(file)[0];
    assert.equal(first.type, 'A');
    assert.equal(first.rcode, 'NOERROR');
    assert.equal(first.source, 'upstream');
    assert.match(first.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    for (let i = 1; i < 16; i++) assert.equal((await dig(hf.port, [`h${i}.qlog.test`, 'A', '+short'])).stdout.trim(), `192.0.2.${i + 1}`);
    const { code } = await hf.stop('SIGTERM');
    hf = null;
    assert.equal(code, 0);
    // Flushed on stop: every query is in the file or a rotation, oldest first.
    assert.ok(existsSync(`${file}.1`), 'rotated to PATH.1');
    for (const p of [file, `${file}.1`, `${file}.2`]) if (existsSync(p)) assert.ok(statSync(p).size <= 1024, `${p} within 1K`);
    const all = [...linesOf(`${file}.2`), ...linesOf(`${file}.1`), ...linesOf(file)].map((l) => l.name);
    // Each line carries its reason too (#14), so three 1K files hold fewer lines than before (11 seen).
    assert.ok(all.length >= 9, `kept ${all.length} lines`);
    assert.deepEqual(all, Array.from({ length: all.length }, (_, k) => `h${16 - all.length + k}.qlog.test.`));
  });
});
