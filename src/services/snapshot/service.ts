// The cache saved to a file, so a restart (or a reboot with the uplink down) does not begin
// with an empty cache. Loaded once before the listeners open; written every
// `snapshotIntervalSeconds` when enough has changed, on request (SIGUSR1), and at shutdown.
// The file system comes through ports (core/ports.ts FileSystem); nothing here logs: what
// happened is reported as events, and the server's top layer turns them into log lines.

import type { Counters } from '../../core/counters.ts';
import type { Clock, FileSystem, TimerHandle, Timers } from '../../core/ports.ts';
import { scanMessage, toStored, type StoredMessage } from '../../core/wire/message.ts';
import { queryFromKey } from '../../core/wire/query.ts';
import { replyMatches } from '../../upstreams/reply-match.ts';
import { ReplyKind, replyKind } from '../../pipeline/cache/policy.ts';
import type { CacheEntry, CacheStore } from '../../pipeline/cache/store.ts';
import { decodeSnapshot, encodeSnapshot, SnapshotError, type SnapshotEntry } from './format.ts';

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
  /** Reads the file into the cache; a missing file is an empty start, a bad one is set aside. */
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
}

/**
 * The message as the cache would have stored it had an upstream just sent it for `key`, or why
 * not. A checksum says the file is as written, not that what was written is sound: a crafted
 * file (or a bug) could hold a message for another name under this key, or one too short to
 * serve. So each goes through what an upstream reply goes through: the question the key stands
 * for must be the one answered (RFC 5452 §9.1, replyMatches), the message must scan whole
 * (scanMessage), and the stored form (TTLs clamped to maxTtlSeconds, rcode, counts) is made
 * afresh from the bytes (toStored) instead of read from the file.
 */
export function validatedMessage(key: string, message: StoredMessage, maxTtlSeconds: number): StoredMessage | string {
  const question = queryFromKey(key);
  if (question === null) return 'key is not a question';
  const wire = message.wire;
  // The key's question with the message's ID, so that replyMatches compares what matters here.
  const sent = question.bytes.slice();
  if (wire.length >= 2) sent.set(wire.subarray(0, 2), 0);
  if (!replyMatches(wire, sent)) return 'message does not answer its key';
  const scan = scanMessage(wire);
  if (typeof scan === 'string') return scan;
  if (scan.truncated) return 'truncated message';
  return toStored(wire, scan, maxTtlSeconds);
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
  const staleWindowMs = opts.staleIfErrorSeconds * 1000;
  const maxTtlMs = opts.maxTtlSeconds * 1000;
  const clockBehind = nowMs < createdAtMs;
  let fresh = 0;
  let stale = 0;
  let dropped = 0;
  let rejected = 0;
  for (const e of entries) {
    const message = validatedMessage(e.key, e.message, opts.maxTtlSeconds);
    if (typeof message === 'string') {
      rejected++;
      continue;
    }
    const ttlMs = Math.min(e.expiresAtMs - e.storedAtMs, maxTtlMs);
    if (!(ttlMs >= 0) || replyKind(message) === ReplyKind.servfail) {
      dropped++;
      continue;
    }
    // An entry stored after the file's own creation time means the clock stepped back while
    // the old process ran: its times cannot be trusted either.
    const trusted = !clockBehind && e.storedAtMs <= createdAtMs;
    let entry: CacheEntry;
    if (trusted) {
      const expiresAtMs = e.storedAtMs + ttlMs;
      if (nowMs >= expiresAtMs + staleWindowMs) {
        dropped++;
        continue;
      }
      entry = store.set(e.key, message, e.storedAtMs, ttlMs);
      if (nowMs < expiresAtMs) fresh++;
      else stale++;
    } else {
      // Without a stale window an expired entry is no use at all.
      if (staleWindowMs === 0) {
        dropped++;
        continue;
      }
      entry = store.set(e.key, message, nowMs - ttlMs, ttlMs);
      stale++;
    }
    entry.popularity = e.popularity;
    // Popularity decays from popularityAtMs; a time in the future would make it grow instead.
    entry.popularityAtMs = Math.min(e.popularityAtMs, nowMs);
  }
  return { restored: fresh + stale, fresh, stale, dropped, rejected, clockBehind };
}

/** What the cache holds that is worth keeping: servable now or later, SERVFAILs left out. */
export function entriesToSave(store: CacheStore, nowMs: number, staleIfErrorSeconds: number): SnapshotEntry[] {
  const staleWindowMs = staleIfErrorSeconds * 1000;
  const out: SnapshotEntry[] = [];
  for (const e of store.entries()) {
    if (nowMs >= e.expiresAtMs + staleWindowMs || replyKind(e.message) === ReplyKind.servfail) continue;
    out.push({
      key: e.key,
      message: e.message,
      storedAtMs: e.storedAtMs,
      expiresAtMs: e.expiresAtMs,
      popularity: e.popularity,
      popularityAtMs: e.popularityAtMs,
    });
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
      const entries = entriesToSave(store, nowMs, options.staleIfErrorSeconds);
      const bytes = encodeSnapshot(entries, nowMs);
      await fs.writeFileAtomic(file, bytes);
      fileTimeMs = nowMs;
      insertsAtLastWrite = inserts;
      counters.snapshot_writes++;
      report({ kind: 'written', file, reason, entries: entries.length, bytes: bytes.length });
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

  return {
    async load() {
      let bytes: Uint8Array | null;
      try {
        bytes = await fs.readBytes(file);
      } catch (e) {
        await setAside(`unreadable (${messageOf(e)})`);
        return null;
      }
      if (bytes === null) return null;
      let decoded: ReturnType<typeof decodeSnapshot>;
      try {
        decoded = decodeSnapshot(bytes);
      } catch (e) {
        // SnapshotError reads "snapshot: <problem> (<detail>)"; the log line names the snapshot already.
        await setAside(e instanceof SnapshotError ? e.message.replace(/^snapshot: /, '') : `unreadable (${messageOf(e)})`);
        return null;
      }
      const nowMs = clock.now();
      const result = restoreEntries(store, decoded.entries, decoded.info.createdAtMs, nowMs, options);
      counters.snapshot_restored_entries += result.restored;
      counters.snapshot_rejected_entries += result.rejected;
      fileTimeMs = decoded.info.createdAtMs;
      // What was just read is what the file holds: no change to write yet.
      insertsAtLastWrite = counters.cache_inserts;
      report({ kind: 'restored', file, createdAtMs: decoded.info.createdAtMs, ageMs: nowMs - decoded.info.createdAtMs, ...result });
      return result;
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
