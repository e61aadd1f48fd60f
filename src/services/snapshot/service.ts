// The cache saved to a file, so a restart (or a reboot with the uplink down) does not begin
// with an empty cache. Loaded once before the listeners open; written every
// `snapshotIntervalSeconds` when enough has changed, on request (SIGUSR1), and at shutdown.
// The file system comes through ports (core/ports.ts FileSystem); nothing here logs: what
// happened is reported as events, and the server's top layer turns them into log lines.

import type { Counters } from '../../core/counters.ts';
import type { Clock, FileSystem, TimerHandle, Timers } from '../../core/ports.ts';
import { ReplyKind, replyKind, replyKindOf } from '../../pipeline/cache/policy.ts';
import type { CacheStore } from '../../pipeline/cache/store.ts';
import {
  createSnapshotReader, createSnapshotWriter, SnapshotError, type RawSnapshotEntry, type SnapshotEntry, type SnapshotReader,
} from './format.ts';
import { validatedMessage } from './validate.ts';

export { validatedMessage } from './validate.ts';

/**
 * A write or load is done in slices of at most this long (by the clock) or SLICE_ENTRIES
 * entries, each followed by a turn of the event loop, so queries are answered in between:
 * 100,000 names took 0.1-0.45 s in one piece (issue #11).
 */
const SLICE_MS = 3;
const SLICE_ENTRIES = 4_096;
/**
 * The steps the other work is cut into, each short even while the code is still cold
 * (interpreted, at the start of a load): a slice takes steps until SLICE_MS have passed or it
 * has done as much as the second figure allows (what bounds a slice when the clock stands still).
 */
const CRC_STEP_BYTES = 64 * 1024;
/** With the runtime's own CRC-32 (FileSystem.crc32): ~0.15 ms a step. */
const NATIVE_CRC_STEP_BYTES = 1024 * 1024;
const CRC_SLICE_STEPS = 16;
const WALK_STEP_ENTRIES = 256;
const WALK_SLICE_STEPS = SLICE_ENTRIES / WALK_STEP_ENTRIES;
/** The finished file is put together this many bytes a step (copies and first-touch page faults). */
const FINISH_STEP_BYTES = 256 * 1024;
const FINISH_SLICE_STEPS = 4;

export interface SnapshotOptions {
  readonly file: string;
  readonly intervalSeconds: number;
  /** A periodic write waits until at least this many answers were cached since the last write. */
  readonly minChanges: number;
  /** Entries further past expiry than this are not written and not restored. */
  readonly staleIfErrorSeconds: number;
  /** No restored entry is fresh for longer than this. */
  readonly maxTtlSeconds: number;
}

export const WriteReason = { periodic: 'periodic', request: 'request', shutdown: 'shutdown' } as const;
export type WriteReason = (typeof WriteReason)[keyof typeof WriteReason];

export interface RestoreResult {
  /** Entries put into the cache: fresh plus stale. */
  readonly restored: number;
  readonly fresh: number;
  /** Already expired, but within the stale-if-error window. */
  readonly stale: number;
  /** Beyond the stale-if-error window, SERVFAIL entries, or damaged times. */
  readonly dropped: number;
  /**
   * Set aside because the message is not one an upstream could have given for the entry's key
   * (it fails the checks an upstream reply passes, or answers another question). Counted apart
   * from `dropped`: the checksum was right, so these were made or damaged before it was taken.
   */
  readonly rejected: number;
  /** The clock reads earlier than when the file was written: no entry was trusted as fresh. */
  readonly clockBehind: boolean;
}

export type SnapshotEvent =
  | ({ readonly kind: 'restored'; readonly file: string; readonly createdAtMs: number; readonly ageMs: number } & RestoreResult)
  | { readonly kind: 'set-aside'; readonly file: string; readonly problem: string; readonly movedTo: string | null }
  | { readonly kind: 'written'; readonly file: string; readonly reason: WriteReason; readonly entries: number; readonly bytes: number }
  | { readonly kind: 'skipped'; readonly file: string; readonly reason: WriteReason; readonly changes: number }
  | { readonly kind: 'write-failed'; readonly file: string; readonly reason: WriteReason; readonly error: string };

export type WriteOutcome = 'written' | 'skipped' | 'failed';

export interface SnapshotService {
  /**
   * Reads the file into the cache; a missing file is an empty start, a bad one is set aside.
   * Writes asked for meanwhile wait until it is done, so none saves a half-loaded cache.
   */
  load(): Promise<RestoreResult | null>;
  /** Starts the periodic writes. */
  start(): void;
  /** Writes now (after any write under way), unless too little changed for this reason. */
  write(reason: WriteReason): Promise<WriteOutcome>;
  /** Stops the periodic writes and writes what changed since the last write. */
  shutdown(): Promise<WriteOutcome>;
  /** When the file on disk was made: our last write, else the file we loaded; null if none. */
  readonly fileTimeMs: number | null;
}

export interface SnapshotPorts {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly fs: FileSystem;
  /**
   * Lets the event loop run (sockets, timers) before resolving: what separates the slices of a
   * write or load. Absent, the slices run back to back (tests with a fake clock).
   */
  readonly yieldToLoop?: () => Promise<void>;
}

/** Calls `step()` until it returns true (done), in slices (see CRC_STEP_BYTES) with a yield between them. */
async function stepped(step: () => boolean, maxSteps: number, clock: Clock, yieldToLoop: (() => Promise<void>) | undefined): Promise<void> {
  for (;;) {
    const startMs = clock.now();
    for (let n = 0; n < maxSteps; n++) {
      if (step()) return;
      if (clock.now() - startMs >= SLICE_MS) break;
    }
    if (yieldToLoop) await yieldToLoop();
  }
}

/** Calls `work(i)` for i in [0, total), yielding between slices. */
async function sliced(total: number, work: (i: number) => void, clock: Clock, yieldToLoop: (() => Promise<void>) | undefined): Promise<void> {
  let i = 0;
  while (i < total) {
    const startMs = clock.now();
    const end = Math.min(total, i + SLICE_ENTRIES);
    while (i < end) {
      work(i++);
      // Reading the clock costs little, but not nothing: every 16 entries is often enough, and
      // the first slices run cold (interpreted, then compiled), at ~0.1 ms an entry (#11).
      if ((i & 15) === 0 && clock.now() - startMs >= SLICE_MS) break;
    }
    if (i < total && yieldToLoop) await yieldToLoop();
  }
}

/**
 * Puts decoded entries into `store`, re-aged by the clock. Entries hold absolute times, so when
 * the clock has moved on since `createdAtMs` they have aged by exactly that. When the clock reads
 * EARLIER than the file's creation (a router without a real-time clock boots at 1970 or at its
 * build date, before NTP), the time passed is unknown: every entry is then taken as expired
 * just now, servable only as stale (TTL 30, RFC 8767) and refreshed first, never fresh for a
 * TTL that could be years out of date.
 */
export function restoreEntries(
  store: CacheStore,
  entries: readonly SnapshotEntry[],
  createdAtMs: number,
  nowMs: number,
  opts: { readonly staleIfErrorSeconds: number; readonly maxTtlSeconds: number },
): RestoreResult {
  const tally = newTally(nowMs < createdAtMs);
  for (const e of entries) restoreOne(store, { ...e, wire: e.message.wire }, createdAtMs, nowMs, opts, tally, false);
  return tally;
}

type Tally = { -readonly [K in keyof RestoreResult]: RestoreResult[K] };

function newTally(clockBehind: boolean): Tally {
  return { restored: 0, fresh: 0, stale: 0, dropped: 0, rejected: 0, clockBehind };
}

/**
 * Puts one entry read from a file into `store` (see restoreEntries), counting what became of
 * it. Only its wire is taken from the file's message: validatedMessage makes the rest afresh.
 * `wireIsOurs` when the wire is a view of a file read for this load and read once: its TTLs are
 * then clamped in place, and the store copies the message into its arena, so nothing keeps the
 * file alive and no copy is made only to be copied again (#11).
 */
function restoreOne(
  store: CacheStore,
  e: RawSnapshotEntry,
  createdAtMs: number,
  nowMs: number,
  opts: { readonly staleIfErrorSeconds: number; readonly maxTtlSeconds: number },
  tally: Tally,
  wireIsOurs: boolean,
): void {
  const staleWindowMs = opts.staleIfErrorSeconds * 1000;
  const maxTtlMs = opts.maxTtlSeconds * 1000;
  const message = validatedMessage(e.key, e.wire, opts.maxTtlSeconds, wireIsOurs);
  if (typeof message === 'string') {
    tally.rejected++;
    return;
  }
  const ttlMs = Math.min(e.expiresAtMs - e.storedAtMs, maxTtlMs);
  if (!(ttlMs >= 0) || replyKind(message) === ReplyKind.servfail) {
    tally.dropped++;
    return;
  }
  // An entry stored after the file's own creation time means the clock stepped back while
  // the old process ran: its times cannot be trusted either.
  const trusted = !tally.clockBehind && e.storedAtMs <= createdAtMs;
  let slot: number;
  if (trusted) {
    const expiresAtMs = e.storedAtMs + ttlMs;
    if (nowMs >= expiresAtMs + staleWindowMs) {
      tally.dropped++;
      return;
    }
    slot = store.put(e.key, message, e.storedAtMs, ttlMs);
    if (nowMs < expiresAtMs) tally.fresh++;
    else tally.stale++;
  } else {
    // Without a stale window an expired entry is no use at all.
    if (staleWindowMs === 0) {
      tally.dropped++;
      return;
    }
    slot = store.put(e.key, message, nowMs - ttlMs, ttlMs);
    tally.stale++;
  }
  tally.restored++;
  if (slot === -1) return;
  // Popularity decays from popularityAtMs; a time in the future would make it grow instead.
  store.setPopularity(slot, e.popularity, Math.min(e.popularityAtMs, nowMs));
}

/** The entry in `slot` if it is worth keeping: servable now or later, SERVFAILs left out. */
function entryToSave(store: CacheStore, slot: number, nowMs: number, staleWindowMs: number): SnapshotEntry | null {
  const expiresAtMs = store.expiresAtMs(slot);
  if (nowMs >= expiresAtMs + staleWindowMs || replyKindOf(store.rcodeAt(slot), store.answerCountAt(slot)) === ReplyKind.servfail) return null;
  return {
    key: store.keyAt(slot),
    message: store.messageAt(slot),
    storedAtMs: store.storedAtMs(slot),
    expiresAtMs,
    popularity: store.popularityOf(slot),
    popularityAtMs: store.popularityAtMs(slot),
  };
}

/** What the cache holds that is worth keeping: servable now or later, SERVFAILs left out. */
export function entriesToSave(store: CacheStore, nowMs: number, staleIfErrorSeconds: number): SnapshotEntry[] {
  const out: SnapshotEntry[] = [];
  for (const slot of store.slots()) {
    const e = entryToSave(store, slot, nowMs, staleIfErrorSeconds * 1000);
    if (e) out.push(e);
  }
  return out;
}

/** PATH.bad-20261122T071859Z: sorts by time, and has no colon, which some tools mind. */
export function setAsidePath(file: string, nowMs: number): string {
  const stamp = new Date(Number.isFinite(nowMs) ? nowMs : 0).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${file}.bad-${stamp}`;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function createSnapshotService(
  options: SnapshotOptions,
  ports: SnapshotPorts,
  store: CacheStore,
  counters: Counters,
  report: (event: SnapshotEvent) => void = () => {},
): SnapshotService {
  const { file } = options;
  const { clock, timers, fs } = ports;
  // Changes are cache inserts (new answers and refreshes), counted from the counter the cache
  // stage bumps anyway, so the hot path pays nothing for this.
  let insertsAtLastWrite = counters.cache_inserts;
  let timer: TimerHandle | null = null;
  let running = false;
  // Writes run one after another: two at once would share the temporary file.
  let queue: Promise<WriteOutcome> = Promise.resolve('skipped');

  const setAside = async (problem: string): Promise<void> => {
    const to = setAsidePath(file, clock.now());
    let movedTo: string | null = to;
    try {
      await fs.rename(file, to);
    } catch {
      // Left where it is: the next write replaces it, which is the other way to be rid of it.
      movedTo = null;
    }
    counters.snapshot_set_aside++;
    report({ kind: 'set-aside', file, problem, movedTo });
  };

  const writeOnce = async (reason: WriteReason): Promise<WriteOutcome> => {
    const nowMs = clock.now();
    const inserts = counters.cache_inserts;
    const changes = inserts - insertsAtLastWrite;
    // A periodic write waits for enough change to be worth the flash wear; at shutdown any
    // change is kept; a request is always honoured.
    const enough = reason === WriteReason.request || (reason === WriteReason.shutdown ? changes > 0 : changes >= options.minChanges);
    if (!enough) {
      counters.snapshot_writes_skipped++;
      report({ kind: 'skipped', file, reason, changes });
      return 'skipped';
    }
    try {
      // Slot by slot, in slices. An entry evicted while the write goes on is left out when its
      // slot is still free, or gives way to the slot's new tenant; one stored since the write
      // began is left out (it may have been written already under its old slot: no key twice).
      const staleWindowMs = options.staleIfErrorSeconds * 1000;
      const writer = createSnapshotWriter(nowMs);
      await sliced(
        store.slotCount,
        (slot) => {
          if (!store.inUse(slot) || store.storedAtMs(slot) > nowMs) return;
          const e = entryToSave(store, slot, nowMs, staleWindowMs);
          if (e) writer.add(e);
        },
        clock,
        ports.yieldToLoop,
      );
      let bytes = null as Uint8Array | null;
      await stepped(() => (bytes = writer.finishStep(FINISH_STEP_BYTES)) !== null, FINISH_SLICE_STEPS, clock, ports.yieldToLoop);
      if (bytes === null) throw new Error('snapshot: the file was not put together');
      await fs.writeFileAtomic(file, bytes);
      fileTimeMs = nowMs;
      insertsAtLastWrite = inserts;
      counters.snapshot_writes++;
      report({ kind: 'written', file, reason, entries: writer.entries, bytes: bytes.length });
      return 'written';
    } catch (e) {
      counters.snapshot_write_failures++;
      report({ kind: 'write-failed', file, reason, error: messageOf(e) });
      return 'failed';
    }
  };

  let fileTimeMs: number | null = null;

  const write = (reason: WriteReason): Promise<WriteOutcome> => {
    queue = queue.then(() => writeOnce(reason));
    return queue;
  };

  const schedule = () => {
    timer = timers.setTimeout(() => {
      timer = null;
      write(WriteReason.periodic).then(() => {
        if (running) schedule();
      });
    }, options.intervalSeconds * 1000);
  };

  const loadOnce = async (): Promise<RestoreResult | null> => {
      let bytes: Uint8Array | null;
      try {
        bytes = await fs.readBytes(file);
      } catch (e) {
        await setAside(`unreadable (${messageOf(e)})`);
        return null;
      }
      if (bytes === null) return null;
      let reader: SnapshotReader;
      try {
        reader = createSnapshotReader(bytes, fs.crc32 ? (b, crc) => fs.crc32!(b, crc) : undefined);
        // Checked whole before anything goes into the cache, a slice at a time.
        const crcStep = fs.crc32 ? NATIVE_CRC_STEP_BYTES : CRC_STEP_BYTES;
        await stepped(() => reader.checkBody(crcStep), CRC_SLICE_STEPS, clock, ports.yieldToLoop);
        await stepped(() => reader.checkEntries(WALK_STEP_ENTRIES), WALK_SLICE_STEPS, clock, ports.yieldToLoop);
      } catch (e) {
        // SnapshotError reads "snapshot: <problem> (<detail>)"; the log line names the snapshot already.
        await setAside(e instanceof SnapshotError ? e.message.replace(/^snapshot: /, '') : `unreadable (${messageOf(e)})`);
        return null;
      }
      const nowMs = clock.now();
      const createdAtMs = reader.info.createdAtMs;
      const result = newTally(nowMs < createdAtMs);
      store.reserve(reader.info.entries);
      await sliced(
        reader.info.entries,
        () => {
          const e = reader.nextRaw()!;
          // An answer that arrived while the load went on is newer than the file's; an
          // upstream's SERVFAIL (kept a few seconds) is not worth more than a good old answer.
          if (store.has(e.key) && replyKind(store.peek(e.key)!.message) !== ReplyKind.servfail) result.dropped++;
          else restoreOne(store, e, createdAtMs, nowMs, options, result, true);
        },
        clock,
        ports.yieldToLoop,
      );
      counters.snapshot_restored_entries += result.restored;
      counters.snapshot_rejected_entries += result.rejected;
      fileTimeMs = createdAtMs;
      // What was just read is what the file holds: no change to write yet.
      insertsAtLastWrite = counters.cache_inserts;
      report({ kind: 'restored', file, createdAtMs, ageMs: nowMs - createdAtMs, ...result });
      return result;
  };

  return {
    load() {
      const loaded = queue.then(loadOnce);
      queue = loaded.then(
        () => 'skipped' as const,
        () => 'skipped' as const,
      );
      return loaded;
    },
    start() {
      if (running) return;
      running = true;
      schedule();
    },
    write,
    shutdown() {
      running = false;
      if (timer !== null) {
        timers.clearTimeout(timer);
        timer = null;
      }
      return write(WriteReason.shutdown);
    },
    get fileTimeMs() {
      return fileTimeMs;
    },
  };
}
