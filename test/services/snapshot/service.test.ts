// The snapshot service with a fake clock and an in-memory file system: re-ageing at load, a
// clock that reads earlier than the file, bad files set aside, and when writes happen.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, ClientInfo, Next } from '../../../src/core/answer.ts';
import { DEFAULT_CONFIG } from '../../../src/config/config.ts';
import { createCounters, type Counters } from '../../../src/core/counters.ts';
import { ErrorCode, HoldfastError } from '../../../src/core/errors.ts';
import { createHandle } from '../../../src/core/handle.ts';
import type { FileSystem } from '../../../src/core/ports.ts';
import { scanMessage, toStored, type StoredMessage } from '../../../src/core/wire/message.ts';
import { nameToText } from '../../../src/core/wire/names.ts';
import { parseQuery } from '../../../src/core/wire/query.ts';
import { compose } from '../../../src/pipeline/chain.ts';
import { crc32, crc32Update } from '../../../src/services/snapshot/crc32.ts';
import { decodeSnapshot, encodeSnapshot } from '../../../src/services/snapshot/format.ts';
import {
  createSnapshotService, entriesToSave, restoreEntries, setAsidePath, WriteReason, type SnapshotEvent, type SnapshotOptions,
} from '../../../src/services/snapshot/service.ts';
import { createCacheStage } from '../../../src/pipeline/cache/stage.ts';
import { createCacheStore, type CacheStore } from '../../../src/pipeline/cache/store.ts';
import { createFakeTime, type FakeTime } from '../../helpers/fake-clock.ts';
import { drain, settle } from '../../helpers/fake-net.ts';
import { decode, query, reply } from '../../helpers/packets.ts';

const FILE = '/var/lib/holdfast/cache.snap';
const T0 = 1_700_000_000_000;
const TTL = 300;
const CLIENT: ClientInfo = { address: '192.0.2.100', port: 5353, transport: 'udp' };
const STALE_WINDOW_MS = DEFAULT_CONFIG.cache.staleIfErrorSeconds * 1000;
const OPTIONS: SnapshotOptions = {
  file: FILE,
  intervalSeconds: 900,
  minChanges: 5,
  staleIfErrorSeconds: DEFAULT_CONFIG.cache.staleIfErrorSeconds,
  maxTtlSeconds: DEFAULT_CONFIG.cache.maxTtlSeconds,
};

function stored(name: string, opts: { ttl?: number; rcode?: string } = {}): StoredMessage {
  const rcode = opts.rcode ?? 'NOERROR';
  const bytes = reply(query(name), { rcode, answers: rcode === 'NOERROR' ? [{ type: 'A', name, ttl: opts.ttl ?? TTL, class: 'IN', data: '192.0.2.1' }] : [] });
  const s = scanMessage(bytes);
  if (typeof s === 'string') throw new Error(s);
  return toStored(bytes, s, 86_400);
}

function keyOf(name: string): string {
  const r = parseQuery(query(name));
  if (!r.ok) throw new Error(r.problem);
  return r.query.key;
}

/** Files in a Map; `failWrites` makes writeFileAtomic throw, `holdWrites` keeps it pending. */
function createMemoryFs() {
  const files = new Map<string, Uint8Array>();
  const renames: Array<[string, string]> = [];
  let writes = 0;
  let writing = 0;
  let mostAtOnce = 0;
  const state = { failWrites: false, failReads: false, failRenames: false, held: [] as Array<() => void>, holdWrites: false };
  const fs: FileSystem = {
    readText: async (p) => (files.has(p) ? new TextDecoder().decode(files.get(p)) : null),
    readBytes: async (p) => {
      if (state.failReads) throw new Error('EIO: i/o error, read');
      return files.get(p)?.slice() ?? null;
    },
    async writeFileAtomic(p, bytes) {
      writing++;
      mostAtOnce = Math.max(mostAtOnce, writing);
      try {
        if (state.holdWrites) await new Promise<void>((r) => state.held.push(r));
        if (state.failWrites) throw new Error('ENOSPC: no space left on device, write');
        files.set(p, bytes.slice());
        writes++;
      } finally {
        writing--;
      }
    },
    async rename(from, to) {
      if (state.failRenames) throw new Error('EROFS: read-only file system, rename');
      const b = files.get(from);
      if (!b) throw new Error(`ENOENT: ${from}`);
      files.delete(from);
      files.set(to, b);
      renames.push([from, to]);
    },
    appendBytes: async () => {
      throw new Error('the snapshot never appends');
    },
    fileSize: async (p) => files.get(p)?.length ?? null,
    stat: async (p) => (files.has(p) ? { sizeBytes: files.get(p)!.length, mtimeMs: 0 } : null),
  };
  return { fs, files, renames, state, writes: () => writes, mostAtOnce: () => mostAtOnce };
}

/** A cache stage (default config) over an upstream that does what `upstream.mode` says. */
function createCache(time: FakeTime, counters: Counters) {
  const upstream = { mode: 'ok' as 'ok' | 'fail', calls: 0 };
  const next: Next = (req) => {
    upstream.calls++;
    if (upstream.mode === 'fail') return Promise.reject(new HoldfastError(ErrorCode.upstreamsExhausted, 'upstream: all failed (test)'));
    const m = stored(nameToText(req.query.bytes, 12));
    const a: Answer = { source: 'upstream', reason: 'test', rcode: m.rcode, message: m, ageSeconds: 0 };
    return a;
  };
  const cache = createCacheStage(DEFAULT_CONFIG.cache, { clock: time, timers: time }, counters);
  const handle = createHandle(compose([cache.stage], next), counters);
  /** The reply to NAME as dig would decode it. */
  const ask = async (name: string) => {
    const r = await settle(Promise.resolve(handle(query(name), CLIENT)), time);
    assert.ok(r, 'no reply');
    return decode(r);
  };
  const answerOf = (name: string) => {
    const r = parseQuery(query(name));
    if (!r.ok) throw new Error(r.problem);
    return settle(Promise.resolve(cache.stage({ query: r.query, client: CLIENT }, next)), time);
  };
  return { store: cache.store, upstream, ask, answerOf };
}

/** One process's life: a clock, counters, a cache and its snapshot service over `mem`. */
function boot(mem: ReturnType<typeof createMemoryFs>, startMs: number, options: Partial<SnapshotOptions> = {}) {
  const time = createFakeTime(startMs);
  const counters = createCounters();
  const cache = createCache(time, counters);
  const events: SnapshotEvent[] = [];
  const service = createSnapshotService({ ...OPTIONS, ...options }, { clock: time, timers: time, fs: mem.fs }, cache.store, counters, (e) => events.push(e));
  return { time, counters, cache, service, events };
}

/** A file as written at T0 by a process that cached `names` at T0 with TTL 300. */
async function fileWith(names: string[]) {
  const mem = createMemoryFs();
  const first = boot(mem, T0);
  for (const n of names) await first.cache.ask(n);
  assert.equal(await first.service.write(WriteReason.request), 'written');
  return mem;
}

describe('snapshot service: loading', () => {
  it('starts empty and quiet when there is no file', async () => {
    const mem = createMemoryFs();
    const p = boot(mem, T0);
    assert.equal(await p.service.load(), null);
    assert.equal(p.cache.store.size, 0);
    assert.deepEqual(p.events, []);
    assert.deepEqual(mem.renames, []);
  });

  it('restores entries aged by the time passed: fresh with the TTL counted down', async () => {
    const mem = await fileWith(['a.example.org', 'b.example.org']);
    const p = boot(mem, T0 + 100_000);
    const r = await p.service.load();
    assert.deepEqual(r, { restored: 2, fresh: 2, stale: 0, dropped: 0, rejected: 0, clockBehind: false });
    assert.equal(p.counters.snapshot_restored_entries, 2);
    const e = p.cache.store.peek(keyOf('a.example.org'))!;
    assert.equal(e.storedAtMs, T0);
    assert.equal(e.expiresAtMs, T0 + TTL * 1000);
    const answer = await p.cache.ask('a.example.org');
    assert.equal(answer.answers[0].ttl, TTL - 100);
    assert.equal(p.cache.upstream.calls, 0, 'a fresh restored entry needs no upstream');
    const restored = p.events.find((ev) => ev.kind === 'restored');
    assert.ok(restored && restored.kind === 'restored');
    assert.equal(restored.ageMs, 100_000);
  });

  it('keeps an entry expired since the file was written as stale: TTL 30 when upstream fails', async () => {
    const mem = await fileWith(['a.example.org']);
    const p = boot(mem, T0 + (TTL + 3_600) * 1000);
    assert.deepEqual(await p.service.load(), { restored: 1, fresh: 0, stale: 1, dropped: 0, rejected: 0, clockBehind: false });
    p.cache.upstream.mode = 'fail';
    const a = await p.cache.answerOf('a.example.org');
    assert.equal(a.source, 'cache-stale');
    const wire = await p.cache.ask('a.example.org');
    assert.equal(wire.rcode, 'NOERROR');
    assert.equal(wire.answers[0].ttl, 30);
  });

  it('drops entries beyond the stale-if-error window', async () => {
    const mem = await fileWith(['a.example.org', 'b.example.org']);
    const p = boot(mem, T0 + TTL * 1000 + STALE_WINDOW_MS);
    assert.deepEqual(await p.service.load(), { restored: 0, fresh: 0, stale: 0, dropped: 2, rejected: 0, clockBehind: false });
    assert.equal(p.cache.store.size, 0);
    assert.equal(p.counters.snapshot_restored_entries, 0);
    // One millisecond earlier they would still have been servable.
    const q = boot(mem, T0 + TTL * 1000 + STALE_WINDOW_MS - 1);
    assert.equal((await q.service.load())!.stale, 2);
  });

  for (const [what, now] of [
    ['years behind (a router without RTC, before NTP)', T0 - 5 * 365 * 86_400_000],
    ['a second before the file was written', T0 - 1_000],
  ] as const) {
    it(`treats every entry as stale, never fresh, when the clock reads ${what}`, async () => {
      const mem = await fileWith(['a.example.org', 'b.example.org']);
      const p = boot(mem, now);
      assert.deepEqual(await p.service.load(), { restored: 2, fresh: 0, stale: 2, dropped: 0, rejected: 0, clockBehind: true });
      const e = p.cache.store.peek(keyOf('a.example.org'))!;
      assert.equal(e.expiresAtMs, now, 'expired just now');
      assert.equal(e.expiresAtMs - e.storedAtMs, TTL * 1000);
      // Never a fresh answer with a TTL that could be years out of date:
      p.cache.upstream.mode = 'fail';
      const first = await p.cache.ask('a.example.org');
      assert.equal(first.answers[0].ttl, 30);
      assert.notEqual((await p.cache.answerOf('b.example.org')).source, 'cache-fresh');
      // Past the revalidate window, the upstream is asked first and the stale copy stands in.
      p.time.advance((DEFAULT_CONFIG.cache.staleWhileRevalidateSeconds + DEFAULT_CONFIG.cache.staleRecheckSeconds + 1) * 1000);
      const a = await p.cache.answerOf('b.example.org');
      assert.equal(a.source, 'cache-stale');
      assert.equal(a.ttlOverrideSeconds, 30);
      assert.ok(p.cache.upstream.calls >= 1);
      // And it stays servable for the whole stale window from now.
      p.time.advance(STALE_WINDOW_MS - 60_000);
      assert.equal((await p.cache.answerOf('b.example.org')).source, 'cache-stale');
    });
  }

  it('refreshes a clock-behind entry from upstream when upstream works', async () => {
    const mem = await fileWith(['a.example.org']);
    const p = boot(mem, T0 - 86_400_000);
    await p.service.load();
    p.time.advance((DEFAULT_CONFIG.cache.staleWhileRevalidateSeconds + 1) * 1000);
    const a = await p.cache.answerOf('a.example.org');
    assert.equal(a.source, 'upstream');
    assert.equal((await p.cache.answerOf('a.example.org')).source, 'cache-fresh');
  });

  it('does not trust an entry stored after the file says it was written (a clock stepped back)', () => {
    const store = createCacheStore(100, () => T0);
    const m = stored('a.example.org');
    const r = restoreEntries(
      store,
      [{ key: keyOf('a.example.org'), message: m, storedAtMs: T0 + 60_000, expiresAtMs: T0 + 360_000, popularity: 3, popularityAtMs: T0 + 60_000 }],
      T0,
      T0 + 10_000,
      OPTIONS,
    );
    assert.deepEqual(r, { restored: 1, fresh: 0, stale: 1, dropped: 0, rejected: 0, clockBehind: false });
    const e = store.peek(keyOf('a.example.org'))!;
    assert.equal(e.expiresAtMs, T0 + 10_000);
    assert.equal(e.popularity, 3);
    assert.equal(e.popularityAtMs, T0 + 10_000, 'no popularity time in the future');
  });

  it('caps a restored TTL at cache.maxTtlSeconds and drops SERVFAIL entries', () => {
    const store = createCacheStore(100, () => T0);
    const r = restoreEntries(
      store,
      [
        { key: keyOf('long.example.org'), message: stored('long.example.org'), storedAtMs: T0, expiresAtMs: T0 + 365 * 86_400_000, popularity: 0, popularityAtMs: T0 },
        { key: keyOf('sf.example.org'), message: stored('sf.example.org', { rcode: 'SERVFAIL' }), storedAtMs: T0, expiresAtMs: T0 + 5_000, popularity: 0, popularityAtMs: T0 },
        { key: keyOf('neg.example.org'), message: stored('neg.example.org'), storedAtMs: T0, expiresAtMs: T0 - 5_000, popularity: 0, popularityAtMs: T0 },
      ],
      T0,
      T0 + 1_000,
      OPTIONS,
    );
    assert.deepEqual(r, { restored: 1, fresh: 1, stale: 0, dropped: 2, rejected: 0, clockBehind: false });
    assert.equal(store.peek(keyOf('long.example.org'))!.expiresAtMs, T0 + OPTIONS.maxTtlSeconds * 1000);
  });

  /** A file written at T0 holding `entries` (key, message) stored at T0 for TTL seconds: its checksum is right. */
  function craftedFile(entries: Array<[string, StoredMessage]>): ReturnType<typeof createMemoryFs> {
    const mem = createMemoryFs();
    mem.files.set(
      FILE,
      encodeSnapshot(
        entries.map(([key, message]) => ({ key, message, storedAtMs: T0, expiresAtMs: T0 + TTL * 1000, popularity: 0, popularityAtMs: T0 })),
        T0,
      ),
    );
    return mem;
  }

  it('#15 - sets aside an entry whose message answers another name than its key, and asks upstream instead', async () => {
    const evil = reply(query('evil.example'), { answers: [{ type: 'A', name: 'evil.example', ttl: TTL, class: 'IN', data: '6.6.6.6' }] });
    const scan = scanMessage(evil);
    if (typeof scan === 'string') throw new Error(scan);
    const mem = craftedFile([
      [keyOf('www.example.org'), toStored(evil, scan, 86_400)],
      [keyOf('a.example.org'), stored('a.example.org')],
    ]);
    const p = boot(mem, T0 + 1_000);
    assert.deepEqual(await p.service.load(), { restored: 1, fresh: 1, stale: 0, dropped: 0, rejected: 1, clockBehind: false });
    assert.equal(p.counters.snapshot_rejected_entries, 1);
    const answer = await p.cache.ask('www.example.org');
    assert.equal(answer.answers[0].data, '192.0.2.1', 'the upstream answer, not the planted one');
    assert.equal(p.cache.upstream.calls, 1);
  });

  it('#15 - sets aside a message too short to be a reply, so its name is not SERVFAIL', async () => {
    const short: StoredMessage = { wire: Uint8Array.from([0, 1, 0x81, 0x80, 0]), ttls: [], rcode: 0, ad: false, answerCount: 1, minAnswerTtl: TTL, negativeTtl: -1 };
    const mem = craftedFile([[keyOf('short.example.org'), short]]);
    const p = boot(mem, T0 + 1_000);
    assert.equal((await p.service.load())!.rejected, 1);
    assert.equal(p.cache.store.size, 0);
    const answer = await p.cache.ask('short.example.org');
    assert.equal(answer.rcode, 'NOERROR');
    assert.equal(answer.answers[0].data, '192.0.2.1');
  });

  it('#15 - takes TTLs and counts from the message itself, clamped to cache.maxTtlSeconds, never from the file', async () => {
    // The file's own record says TTL 86400 and rcode NXDOMAIN; the bytes say TTL 86400, NOERROR.
    const m = stored('day.example.org', { ttl: 86_400 });
    const lying: StoredMessage = { ...m, rcode: 3, answerCount: 0 };
    const mem = craftedFile([[keyOf('day.example.org'), lying]]);
    const p = boot(mem, T0 + 1_000, { maxTtlSeconds: 120 });
    assert.equal((await p.service.load())!.restored, 1);
    const e = p.cache.store.peek(keyOf('day.example.org'))!;
    assert.equal(e.message.rcode, 0);
    assert.equal(e.message.answerCount, 1);
    const answer = await p.cache.ask('day.example.org');
    assert.ok(answer.answers[0].ttl! <= 120, `TTL ${answer.answers[0].ttl}`);
  });

  it('#15 - sets aside an entry whose key is not a question at all', () => {
    const store = createCacheStore(100, () => T0);
    const r = restoreEntries(store, [{ key: 'k', message: stored('a.example.org'), storedAtMs: T0, expiresAtMs: T0 + 1_000, popularity: 0, popularityAtMs: T0 }], T0, T0, OPTIONS);
    assert.equal(r.rejected, 1);
    assert.equal(store.size, 0);
  });

  it('carries popularity across a restart', async () => {
    const mem = createMemoryFs();
    const first = boot(mem, T0);
    await first.cache.ask('a.example.org');
    const e = first.cache.store.peek(keyOf('a.example.org'))!;
    e.popularity = 7.5;
    e.popularityAtMs = T0 + 500;
    await first.service.write(WriteReason.request);
    const p = boot(mem, T0 + 10_000);
    await p.service.load();
    const r = p.cache.store.peek(keyOf('a.example.org'))!;
    assert.equal(r.popularity, 7.5);
    assert.equal(r.popularityAtMs, T0 + 500);
  });

  function v1File(): Uint8Array {
    const bytes = encodeSnapshot([], T0);
    const view = new DataView(bytes.buffer);
    view.setUint16(6, 1);
    view.setUint32(28, crc32(bytes, 0, 28));
    return bytes;
  }

  for (const [what, bytes, problem] of [
    ['truncated', () => encodeSnapshot([], T0).subarray(0, 20), /truncated/],
    ['corrupt', () => {
      const b = encodeSnapshot([{ key: 'k', message: stored('a.example.org'), storedAtMs: T0, expiresAtMs: T0 + 1, popularity: 0, popularityAtMs: T0 }], T0);
      b[b.length - 3] ^= 0xff;
      return b;
    }, /checksum/],
    ['wrong-version (v1)', v1File, /wrong format version/],
    ['not a snapshot', () => new TextEncoder().encode('nameserver 192.0.2.1\n'.repeat(4)), /not a Holdfast snapshot/],
  ] as const) {
    it(`sets a ${what} file aside with one event naming the problem, and starts empty`, async () => {
      const mem = createMemoryFs();
      mem.files.set(FILE, bytes());
      const p = boot(mem, T0);
      assert.equal(await p.service.load(), null);
      assert.equal(p.cache.store.size, 0);
      assert.equal(p.events.length, 1);
      const ev = p.events[0];
      assert.ok(ev.kind === 'set-aside');
      assert.match(ev.problem, problem);
      assert.equal(ev.movedTo, setAsidePath(FILE, T0));
      assert.deepEqual(mem.renames, [[FILE, `${FILE}.bad-20231114T221320Z`]]);
      assert.equal(mem.files.has(FILE), false);
      assert.equal(p.counters.snapshot_set_aside, 1);
    });
  }

  it('sets an unreadable file aside, and starts even when it cannot be moved', async () => {
    const mem = createMemoryFs();
    mem.files.set(FILE, encodeSnapshot([], T0));
    mem.state.failReads = true;
    mem.state.failRenames = true;
    const p = boot(mem, T0);
    assert.equal(await p.service.load(), null);
    assert.equal(p.events.length, 1);
    const ev = p.events[0];
    assert.ok(ev.kind === 'set-aside');
    assert.match(ev.problem, /unreadable \(EIO/);
    assert.equal(ev.movedTo, null);
  });
});

describe('snapshot service: writing', () => {
  it('writes what the cache holds, without SERVFAILs or entries beyond the stale window', async () => {
    const mem = createMemoryFs();
    const p = boot(mem, T0);
    await p.cache.ask('a.example.org');
    p.cache.store.set('sf', stored('sf.example.org', { rcode: 'SERVFAIL' }), T0, 5_000);
    p.cache.store.set('old', stored('old.example.org'), T0 - STALE_WINDOW_MS - 301_000, 300_000);
    assert.equal(await p.service.write(WriteReason.request), 'written');
    const { info, entries } = decodeSnapshot(mem.files.get(FILE)!);
    assert.equal(info.createdAtMs, T0);
    assert.deepEqual(entries.map((e) => e.key), [keyOf('a.example.org')]);
    assert.deepEqual(p.events.at(-1), { kind: 'written', file: FILE, reason: 'request', entries: 1, bytes: mem.files.get(FILE)!.length });
  });

  it('knows when the file on disk was made: none at first, the loaded file\'s time, then its own last write', async () => {
    const mem = createMemoryFs();
    const first = boot(mem, T0);
    assert.equal(first.service.fileTimeMs, null);
    await first.cache.ask('a.example.org');
    await first.service.write(WriteReason.request);
    assert.equal(first.service.fileTimeMs, T0);
    const second = boot(mem, T0 + 60_000);
    await second.service.load();
    assert.equal(second.service.fileTimeMs, T0, 'the loaded file was made at T0');
    await second.cache.ask('b.example.org');
    await second.service.write(WriteReason.request);
    assert.equal(second.service.fileTimeMs, T0 + 60_000);
  });

  it('writes every interval when enough changed, and skips an interval when too little did', async () => {
    const mem = createMemoryFs();
    const p = boot(mem, T0, { intervalSeconds: 60, minChanges: 5 });
    await p.service.load();
    p.service.start();
    for (let i = 0; i < 3; i++) await p.cache.ask(`n${i}.example.org`);
    p.time.advance(60_000);
    await drain();
    assert.equal(mem.writes(), 0, 'three changes are fewer than five');
    assert.equal(p.counters.snapshot_writes_skipped, 1);
    // The changes add up across skipped intervals.
    for (let i = 3; i < 5; i++) await p.cache.ask(`n${i}.example.org`);
    p.time.advance(60_000);
    await drain();
    assert.equal(mem.writes(), 1);
    assert.equal(decodeSnapshot(mem.files.get(FILE)!).entries.length, 5);
    // Nothing new since: the next interval skips again.
    p.time.advance(60_000);
    await drain();
    assert.equal(mem.writes(), 1);
    assert.equal(p.counters.snapshot_writes, 1);
    assert.equal(p.counters.snapshot_writes_skipped, 2);
    // A refresh of a known name counts as a change too.
    p.time.advance((TTL + 20) * 1000);
    await drain();
    for (let i = 0; i < 5; i++) await p.cache.ask(`n${i}.example.org`);
    p.time.advance(60_000);
    await drain();
    assert.equal(mem.writes(), 2);
  });

  it('keeps writing on schedule after a failed write, counting the failure', async () => {
    const mem = createMemoryFs();
    const p = boot(mem, T0, { intervalSeconds: 60, minChanges: 1 });
    p.service.start();
    await p.cache.ask('a.example.org');
    mem.state.failWrites = true;
    p.time.advance(60_000);
    await drain();
    assert.equal(p.counters.snapshot_write_failures, 1);
    const failed = p.events.find((e) => e.kind === 'write-failed');
    assert.ok(failed && failed.kind === 'write-failed');
    assert.match(failed.error, /ENOSPC/);
    mem.state.failWrites = false;
    p.time.advance(60_000);
    await drain();
    assert.equal(p.counters.snapshot_writes, 1, 'the unwritten change is written at the next interval');
    assert.equal(p.time.pendingTimers, 1, 'still scheduled');
  });

  it('at shutdown writes any change, stops the timer, and skips when nothing changed', async () => {
    const mem = await fileWith(['a.example.org']);
    const p = boot(mem, T0 + 1_000, { intervalSeconds: 60, minChanges: 100 });
    await p.service.load();
    p.service.start();
    assert.equal(await p.service.shutdown(), 'skipped', 'the file already holds what was restored');
    assert.equal(p.time.pendingTimers, 0);
    const q = boot(mem, T0 + 2_000, { intervalSeconds: 60, minChanges: 100 });
    await q.service.load();
    q.service.start();
    await q.cache.ask('b.example.org');
    assert.equal(await q.service.shutdown(), 'written', 'one change is enough at shutdown');
    assert.equal(decodeSnapshot(mem.files.get(FILE)!).entries.length, 2);
    assert.equal(q.time.pendingTimers, 0);
  });

  it('writes on request even when nothing changed', async () => {
    const mem = createMemoryFs();
    const p = boot(mem, T0);
    assert.equal(await p.service.write(WriteReason.request), 'written');
    assert.equal(decodeSnapshot(mem.files.get(FILE)!).entries.length, 0);
  });

  it('never runs two writes at once', async () => {
    const mem = createMemoryFs();
    const p = boot(mem, T0);
    await p.cache.ask('a.example.org');
    mem.state.holdWrites = true;
    const first = p.service.write(WriteReason.request);
    const second = p.service.write(WriteReason.request);
    await drain();
    assert.equal(mem.state.held.length, 1, 'the second waits for the first');
    mem.state.held.shift()!();
    await drain();
    assert.equal(mem.state.held.length, 1);
    mem.state.held.shift()!();
    assert.deepEqual(await Promise.all([first, second]), ['written', 'written']);
    assert.equal(mem.mostAtOnce(), 1);
  });
});

describe('snapshot service: slices (#11)', () => {
  /** A version-2 file as the encoder before #11 wrote it: a.example.org (TTL 300) and b.example.org (TTL 60), popularity 2.5. */
  const OLD_FILE =
    'SEZTTkFQAAJCeLz+Vr6AAAAAAAIAAAEQrzT+sfteFiYAFAFhB2V4YW1wbGUDb3JnAAABAAEAQni8/laAAABCeLz+n74AAEAEAAAAAAAAQni8/laAAAAAPBI0gYAAAQABAAAAAAFhB2V4YW1wbGUDb3JnAAABAAEBYQdleGFtcGxlA29yZwAAAQABAAABLAAEwAACBwABADIAAAEsAAAAAQAAASz/////ABQBYgdleGFtcGxlA29yZwAAAQABAEJ4vP5WgAAAQni8/mUmAABABAAAAAAAAEJ4vP5WgAAAADwSNIGAAAEAAQAAAAABYgdleGFtcGxlA29yZwAAAQABAWIHZXhhbXBsZQNvcmcAAAEAAQAAADwABMAAAgcAAQAyAAAAPAAAAAEAAAA8/////w==';

  /** Boots with a yieldToLoop port that counts the slices and can run something between them. */
  function bootSliced(mem: ReturnType<typeof createMemoryFs>, startMs: number, between: () => void = () => {}) {
    const b = boot(mem, startMs);
    const yields = { count: 0 };
    const service = createSnapshotService(OPTIONS, {
      clock: b.time,
      timers: b.time,
      fs: mem.fs,
      yieldToLoop: async () => {
        yields.count++;
        between();
      },
    }, b.cache.store, b.counters, (e) => b.events.push(e));
    return { ...b, service, yields };
  }

  it('#11 - checks the file with the runtime\'s own CRC-32 where it has one, and still sets a corrupt file aside', async () => {
    const mem = createMemoryFs();
    const first = bootSliced(mem, T0);
    for (let i = 0; i < 3_000; i++) first.cache.store.set(keyOf(`n${i}.example.org`), stored(`n${i}.example.org`), T0, TTL * 1000);
    await first.service.write(WriteReason.request);
    const good = mem.files.get(OPTIONS.file)!.slice();
    // A stand-in for Bun.hash.crc32: the same sums, counted.
    let bytesSummed = 0;
    const fs: FileSystem = {
      ...mem.fs,
      crc32: (bytes, crc) => {
        bytesSummed += bytes.length;
        return crc32Update(crc, bytes);
      },
    };
    const load = async () => {
      const b = boot(mem, T0 + 1_000);
      const service = createSnapshotService(OPTIONS, { clock: b.time, timers: b.time, fs }, b.cache.store, b.counters, (e) => b.events.push(e));
      return { result: await service.load(), b };
    };
    const ok = await load();
    assert.equal(ok.result?.restored, 3_000);
    assert.equal(bytesSummed, good.length - 32, 'the whole body, through the port');
    const bad = good.slice();
    bad[good.length >> 1] ^= 0x40;
    mem.files.set(OPTIONS.file, bad);
    const corrupt = await load();
    assert.equal(corrupt.result, null);
    assert.equal(corrupt.b.cache.store.size, 0);
    assert.match((corrupt.b.events[0] as { problem: string }).problem, /checksum mismatch \(body\)/);
  });

  it('#11 - keeps nothing of the file\'s bytes: changing them after a load changes no answer', async () => {
    const mem = createMemoryFs();
    const first = bootSliced(mem, T0);
    for (let i = 0; i < 100; i++) first.cache.store.set(keyOf(`n${i}.example.org`), stored(`n${i}.example.org`, { ttl: 100_000 }), T0, 100_000_000);
    await first.service.write(WriteReason.request);
    let read: Uint8Array | null = null;
    const fs: FileSystem = { ...mem.fs, readBytes: async (p) => (read = await mem.fs.readBytes(p)) };
    const b = boot(mem, T0 + 1_000);
    const service = createSnapshotService({ ...OPTIONS, maxTtlSeconds: 3_600 }, { clock: b.time, timers: b.time, fs }, b.cache.store, b.counters);
    assert.equal((await service.load())?.restored, 100);
    const answers = () => Array.from({ length: 100 }, (_, i) => b.cache.store.peek(keyOf(`n${i}.example.org`))!.message);
    const before = answers();
    assert.deepEqual(before[7].ttls.filter((_, i) => i % 2 === 1), [3_600], 'clamped to the maximum on the way in');
    read!.fill(0x5a);
    assert.deepEqual(answers(), before);
  });

  it('#11 - reads a file written before the store changed (format version 2)', async () => {
    const mem = createMemoryFs();
    await mem.fs.writeFileAtomic(OPTIONS.file, Uint8Array.from(atob(OLD_FILE), (c) => c.charCodeAt(0)));
    const p = bootSliced(mem, 1_700_000_010_000);
    assert.deepEqual(await p.service.load(), { restored: 2, fresh: 2, stale: 0, dropped: 0, rejected: 0, clockBehind: false });
    const a = p.cache.store.peek(keyOf('a.example.org'))!;
    assert.equal(a.expiresAtMs, 1_700_000_300_000);
    assert.equal(a.popularity, 2.5);
    assert.equal((await p.cache.ask('b.example.org')).answers[0].ttl, 50);
    assert.equal(p.cache.upstream.calls, 0);
  });

  it('#11 - writes and loads 12,000 names in slices, yielding between them, to the same file as one piece', async () => {
    const mem = createMemoryFs();
    const first = bootSliced(mem, T0);
    for (let i = 0; i < 12_000; i++) first.cache.store.set(keyOf(`n${i}.example.org`), stored(`n${i}.example.org`), T0, TTL * 1000);
    first.counters.cache_inserts += 12_000;
    assert.equal(await first.service.write(WriteReason.request), 'written');
    assert.ok(first.yields.count >= 2, `${first.yields.count} yields while writing`);
    const file = mem.files.get(OPTIONS.file)!;
    assert.deepEqual(file, encodeSnapshot(entriesToSave(first.cache.store, T0, OPTIONS.staleIfErrorSeconds), T0));
    const second = bootSliced(mem, T0 + 1_000);
    assert.equal((await second.service.load())!.restored, 12_000);
    assert.ok(second.yields.count >= 4, `${second.yields.count} yields while loading`);
    assert.equal(second.cache.store.size, 12_000);
  });

  it('#11 - leaves out an entry evicted while the write goes on, and keeps an answer that came during a load', async () => {
    const mem = createMemoryFs();
    let evict = () => {};
    const first = bootSliced(mem, T0, () => evict());
    for (let i = 0; i < 10_000; i++) first.cache.store.set(keyOf(`n${i}.example.org`), stored(`n${i}.example.org`), T0, TTL * 1000);
    evict = () => {
      first.cache.store.delete(keyOf('n9999.example.org'));
      evict = () => {};
    };
    await first.service.write(WriteReason.request);
    const written = decodeSnapshot(mem.files.get(OPTIONS.file)!).entries.map((e) => e.key);
    assert.equal(written.length, 9_999);
    assert.ok(!written.includes(keyOf('n9999.example.org')));

    let during = () => {};
    const second = bootSliced(mem, T0 + 1_000, () => during());
    during = () => {
      // A query answered between two slices: newer than the file's copy, which must not replace it.
      second.cache.store.set(keyOf('n9998.example.org'), stored('n9998.example.org', { ttl: 5 }), T0 + 1_000, 5_000);
      during = () => {};
    };
    const r = (await second.service.load())!;
    assert.equal(r.restored + r.dropped, 9_999);
    assert.equal(second.cache.store.peek(keyOf('n9998.example.org'))!.expiresAtMs, T0 + 6_000);
  });

  it('#11 - ends every slice of a load by the clock, the checks of the file as well as the entries', async () => {
    const mem = createMemoryFs();
    const first = bootSliced(mem, T0);
    for (let i = 0; i < 4_000; i++) first.cache.store.set(keyOf(`n${i}.example.org`), stored(`n${i}.example.org`), T0, TTL * 1000);
    await first.service.write(WriteReason.request);
    // A clock that moves 2 ms each time it is read, and a yield that says which part of the load
    // the slice before it was in: slices of a few steps each, in every part.
    let ms = T0 + 1_000;
    const clock = { now: () => (ms += 2) };
    const second = boot(mem, T0 + 1_000);
    const before = { crc: 0, entries: 0 };
    const service = createSnapshotService(OPTIONS, {
      clock,
      timers: second.time,
      fs: mem.fs,
      yieldToLoop: async () => {
        if (second.cache.store.size > 0) before.entries++;
        else before.crc++;
      },
    }, second.cache.store, second.counters);
    assert.equal((await service.load())!.restored, 4_000);
    // The file is ~300 KB: 5 CRC steps of 64 KiB and 16 walk steps of 256 entries, two a slice.
    assert.ok(before.crc >= 8, `${before.crc} yields while the file was checked`);
    // Entries: the clock is read every 16 (the first slices run cold), so a slice holds 32.
    assert.ok(before.entries >= 4_000 / 32 - 1, `${before.entries} yields while entries went in`);
  });
});

