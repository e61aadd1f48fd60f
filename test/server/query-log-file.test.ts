import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCounters } from '../../src/core/counters.ts';
import type { FileSystem } from '../../src/core/ports.ts';
import type { QueryLogEntry } from '../../src/server/query-log.ts';
import { createQueryLogFile, QUERY_LOG_FLUSH_MS } from '../../src/server/query-log-file.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';

/** Files in a Map with append, size and rename; `fail` makes every call throw. */
function memoryFs() {
  const files = new Map<string, string>();
  const state = { fail: false, appends: 0 };
  const check = () => {
    if (state.fail) throw new Error('ENOSPC: no space left on device');
  };
  const fs: Pick<FileSystem, 'appendBytes' | 'fileSize' | 'rename'> = {
    async appendBytes(p, bytes) {
      check();
      state.appends++;
      files.set(p, (files.get(p) ?? '') + new TextDecoder().decode(bytes));
    },
    async fileSize(p) {
      check();
      return files.has(p) ? new TextEncoder().encode(files.get(p)!).length : null;
    },
    async rename(from, to) {
      check();
      if (!files.has(from)) throw new Error(`ENOENT: ${from}`);
      files.set(to, files.get(from)!);
      files.delete(from);
    },
  };
  return { fs, files, state };
}

const entry = (i: number): QueryLogEntry => ({
  timeMs: Date.UTC(2024, 0, 1) + i,
  client: '192.0.2.1',
  transport: 'udp',
  name: `n${i}.example.`,
  type: 'A',
  source: 'upstream',
  reason: 'udp://192.0.2.53:53 in 9 ms',
  rcode: 'NOERROR',
});

const names = (text: string | undefined) => (text ?? '').split('\n').filter(Boolean).map((l) => JSON.parse(l).name as string);
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('query log file', () => {
  it('writes nothing on the query path, then every buffered line as JSON on the timer', async () => {
    const time = createFakeTime();
    const m = memoryFs();
    const log = createQueryLogFile({ file: 'q.log', maxFileBytes: 1 << 20, rotatedFiles: 2 }, m.fs, time, createCounters());
    log.append(entry(1));
    log.append(entry(2));
    await settle();
    assert.equal(m.state.appends, 0, 'buffered, not written');
    time.advance(QUERY_LOG_FLUSH_MS);
    await settle();
    const lines = m.files.get('q.log')!.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], { time: '2024-01-01T00:00:00.001Z', client: '192.0.2.1', transport: 'udp', name: 'n1.example.', type: 'A', source: 'upstream', reason: 'udp://192.0.2.53:53 in 9 ms', rcode: 'NOERROR' });
    assert.deepEqual(lines.map((l) => l.name), ['n1.example.', 'n2.example.']);
    assert.equal(m.state.appends, 1, 'one write for the batch');
  });

  it('rotates by size: the file to .1, .1 to .2, the oldest dropped, none over the bound', async () => {
    const time = createFakeTime();
    const m = memoryFs();
    const log = createQueryLogFile({ file: 'q.log', maxFileBytes: 400, rotatedFiles: 2 }, m.fs, time, createCounters());
    for (let i = 1; i <= 20; i++) {
      log.append(entry(i));
      // One line per flush, so every rotation decision is seen.
      await log.flush();
    }
    await log.stop();
    for (const p of ['q.log', 'q.log.1', 'q.log.2']) assert.ok(new TextEncoder().encode(m.files.get(p)!).length <= 400, `${p} within the bound`);
    assert.equal(m.files.has('q.log.3'), false, 'only two rotations kept');
    const all = [...names(m.files.get('q.log.2')), ...names(m.files.get('q.log.1')), ...names(m.files.get('q.log'))];
    const n = all.length;
    assert.ok(n < 20, 'the oldest were dropped');
    assert.deepEqual(all, Array.from({ length: n }, (_, k) => `n${20 - n + 1 + k}.example.`), 'oldest to newest across the files, nothing lost between them');
  });

  it('rotates inside one large batch, splitting it on line boundaries', async () => {
    const time = createFakeTime();
    const m = memoryFs();
    const log = createQueryLogFile({ file: 'q.log', maxFileBytes: 400, rotatedFiles: 3, flushBytes: 1 << 20 }, m.fs, time, createCounters());
    for (let i = 1; i <= 8; i++) log.append(entry(i));
    await log.flush();
    // About 140 bytes a line: two lines a file, four files.
    const all = [...names(m.files.get('q.log.3')), ...names(m.files.get('q.log.2')), ...names(m.files.get('q.log.1')), ...names(m.files.get('q.log'))];
    assert.deepEqual(all, Array.from({ length: 8 }, (_, k) => `n${k + 1}.example.`));
    assert.ok(new TextEncoder().encode(m.files.get('q.log.1')!).length <= 400);
  });

  it('counts a failed write, keeps the lines for the next try, and never throws', async () => {
    const time = createFakeTime();
    const m = memoryFs();
    const counters = createCounters();
    const log = createQueryLogFile({ file: 'q.log', maxFileBytes: 1 << 20, rotatedFiles: 2 }, m.fs, time, counters);
    m.state.fail = true;
    log.append(entry(1));
    time.advance(QUERY_LOG_FLUSH_MS);
    await settle();
    assert.equal(counters.query_log_write_failures, 1);
    m.state.fail = false;
    log.append(entry(2));
    time.advance(QUERY_LOG_FLUSH_MS);
    await settle();
    assert.deepEqual(names(m.files.get('q.log')), ['n1.example.', 'n2.example.'], 'retried in order');
    assert.equal(counters.query_log_lines_dropped, 0);
  });

  it('drops and counts lines beyond the buffer bound while the disk fails', async () => {
    const time = createFakeTime();
    const m = memoryFs();
    const counters = createCounters();
    const log = createQueryLogFile({ file: 'q.log', maxFileBytes: 1 << 20, rotatedFiles: 2, maxBufferedBytes: 1000 }, m.fs, time, counters);
    m.state.fail = true;
    for (let i = 1; i <= 50; i++) {
      log.append(entry(i));
      time.advance(QUERY_LOG_FLUSH_MS);
      await settle();
    }
    assert.ok(counters.query_log_write_failures >= 1);
    assert.ok(counters.query_log_lines_dropped > 30, `dropped ${counters.query_log_lines_dropped}`);
    m.state.fail = false;
    await log.stop();
    const kept = names(m.files.get('q.log'));
    assert.equal(kept.length + counters.query_log_lines_dropped, 50, 'every line either written or counted');
    assert.ok(kept.join('').length < 1000);
  });

  it('writes what is buffered on stop, and stops its timer', async () => {
    const time = createFakeTime();
    const m = memoryFs();
    const log = createQueryLogFile({ file: 'q.log', maxFileBytes: 1 << 20, rotatedFiles: 2 }, m.fs, time, createCounters());
    log.append(entry(1));
    assert.equal(time.pendingTimers, 1);
    await log.stop();
    assert.deepEqual(names(m.files.get('q.log')), ['n1.example.']);
    assert.equal(time.pendingTimers, 0);
    log.append(entry(2));
    assert.equal(time.pendingTimers, 0, 'nothing more after stop');
  });

  it('starts a write at once when the buffer passes a few KB', async () => {
    const time = createFakeTime();
    const m = memoryFs();
    const log = createQueryLogFile({ file: 'q.log', maxFileBytes: 1 << 20, rotatedFiles: 2 }, m.fs, time, createCounters());
    for (let i = 1; i <= 100; i++) log.append(entry(i));
    await settle();
    assert.ok(m.state.appends >= 1, 'written without the timer');
  });
});
