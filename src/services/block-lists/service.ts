// Keeps the block stage's lists current: reads list files at start and on SIGHUP, and for each
// https:// list keeps a copy under --lists-dir (written whole: temp file and rename), loads that
// copy at once at start (a router booting with the WAN down blocks from it before any download
// could work), and downloads again every --block-list-refresh, conditionally. A failed download
// keeps the last good list. Each event is reported once, for one log line.

import type { ServerConfig } from '../../config/config.ts';
import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { Clock, FileSystem, TimerHandle, Timers } from '../../core/ports.ts';
import { loadBlockList } from '../../pipeline/block/load.ts';
import type { ParseReport } from '../../pipeline/block/parse.ts';
import type { BlockList, BlockStage } from '../../pipeline/block/stage.ts';
import type { FetchResult, Validators } from './fetch.ts';

export type BlockSettings = ServerConfig['block'];

export interface BlockListEvent {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** What the status page and /api/stats show of one list. */
export interface BlockListStatus {
  readonly list: string;
  readonly kind: 'file' | 'url';
  /** Names in force; 0 while a URL list has no copy yet. */
  readonly names: number;
  /** Bytes the list takes in memory. */
  readonly bytes: number;
  /** When the list in force was read (a file) or downloaded (a URL); null: none yet. */
  readonly updatedAtMs: number | null;
  readonly blocked: number;
  /** The last download's failure, until one works. */
  readonly lastError: string | null;
}

export interface BlockListDeps {
  readonly fs: FileSystem;
  readonly timers: Timers;
  readonly clock: Clock;
  readonly fetch: (url: string, validators: Validators | null, maxBytes: number) => Promise<FetchResult>;
}

export interface BlockListService {
  /** Reads every list (files, and the kept copies of URL lists); throws for a missing file. */
  start(): Promise<void>;
  /**
   * Reads the new settings' list files; throws, changing nothing, for one that cannot be read.
   * The returned function puts them in force (SIGHUP calls it once every part of the new
   * configuration has been built). URL lists kept are not downloaded again before their time.
   */
  prepare(next: BlockSettings): Promise<() => Promise<void>>;
  status(): BlockListStatus[];
  stop(): void;
}

interface UrlState {
  readonly url: string;
  list: BlockList | null;
  validators: Validators | null;
  updatedAtMs: number | null;
  lastError: string | null;
  timer: TimerHandle | null;
  busy: Promise<void> | null;
}

interface Meta {
  readonly url: string;
  readonly etag: string | null;
  readonly lastModified: string | null;
  readonly fetchedAtMs: number;
}

const isUrl = (s: string) => s.startsWith('https://');
/** After a failed download, the next try comes sooner than a whole refresh period. */
const RETRY_MS = 15 * 60_000;

/** A file name for a URL's copy: readable, and unique by a hash of the whole URL. */
export function copyName(url: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < url.length; i++) h = Math.imul(h ^ url.charCodeAt(i), 0x01000193);
  const host = new URL(url).hostname.replace(/[^a-z0-9.-]/gi, '_');
  return `${host}-${(h >>> 0).toString(16).padStart(8, '0')}`;
}

const join = (dir: string, name: string) => (dir.endsWith('/') ? dir + name : `${dir}/${name}`);

export function createBlockListService(initial: BlockSettings, deps: BlockListDeps, stage: BlockStage, onEvent: (e: BlockListEvent) => void = () => {}): BlockListService {
  let settings = initial;
  const files = new Map<string, { list: BlockList; readAtMs: number }>();
  const urls = new Map<string, UrlState>();
  let stopped = false;
  const now = () => deps.clock.now();
  const elapsed = () => (deps.clock.monotonicMs ? deps.clock.monotonicMs() : deps.clock.now());

  const report = (label: string, r: ParseReport, names: number, ms: number, how: string) => {
    const skipped = r.unsupported > 0 ? `, ${r.unsupported} rules of kinds DNS cannot apply skipped` : '';
    onEvent({ level: 'info', message: `block list ${label}: ${how}, ${names} names in ${Math.round(ms)} ms${skipped}`, fields: { list: label, names, unsupported: r.unsupported, badLines: r.badCount } });
    if (r.badCount > 0) {
      const shown = r.bad.map((b) => `line ${b.line} "${b.text.slice(0, 60)}"`).join(', ');
      const more = r.badCount > r.bad.length ? ` and ${r.badCount - r.bad.length} more` : '';
      onEvent({ level: 'warn', message: `block list ${label}: ${r.badCount} lines are no rule and were skipped: ${shown}${more}`, fields: { list: label, badLines: r.badCount, bad: r.bad } });
    }
  };

  const parse = (label: string, bytes: Uint8Array, how: string): BlockList => {
    const t = elapsed();
    const { list, report: r } = loadBlockList(label, bytes);
    report(label, r, list.set.size, elapsed() - t, how);
    return list;
  };

  const readFile = async (path: string): Promise<BlockList> => {
    let bytes: Uint8Array | null;
    try {
      bytes = await deps.fs.readBytes(path);
    } catch (e) {
      throw new HoldfastError(ErrorCode.config, `block list: ${path} cannot be read (${(e as Error).message})`);
    }
    if (bytes === null) throw new HoldfastError(ErrorCode.config, `block list: ${path} does not exist`);
    return parse(path, bytes, 'read');
  };

  /** The stage's lists: in the configured order, those that have names. */
  const publish = () => {
    const lists: BlockList[] = [];
    for (const entry of settings.lists) {
      const l = isUrl(entry) ? urls.get(entry)?.list : files.get(entry)?.list;
      if (l) lists.push(l);
    }
    stage.setLists(lists);
  };

  const loadCopy = async (state: UrlState) => {
    const dir = settings.listsDir;
    if (dir === null) return;
    const base = join(dir, copyName(state.url));
    try {
      const metaText = await deps.fs.readText(`${base}.meta.json`);
      const bytes = await deps.fs.readBytes(`${base}.list`);
      if (metaText === null || bytes === null) return;
      const meta = JSON.parse(metaText) as Meta;
      if (meta.url !== state.url) return;
      state.list = parse(state.url, bytes, `the copy from ${new Date(meta.fetchedAtMs).toISOString()}`);
      state.validators = { etag: meta.etag, lastModified: meta.lastModified };
      state.updatedAtMs = meta.fetchedAtMs;
    } catch (e) {
      onEvent({ level: 'warn', message: `block list ${state.url}: the kept copy under ${dir} cannot be used (${(e as Error).message}); downloading it`, fields: { list: state.url } });
    }
  };

  const writeCopy = async (state: UrlState, body: Uint8Array, meta: Meta) => {
    const dir = settings.listsDir;
    if (dir === null) return;
    const base = join(dir, copyName(state.url));
    try {
      // The list first: a meta file never names a copy that is not there whole.
      await deps.fs.writeFileAtomic(`${base}.list`, body);
      await deps.fs.writeFileAtomic(`${base}.meta.json`, new TextEncoder().encode(JSON.stringify(meta) + '\n'));
    } catch (e) {
      onEvent({ level: 'warn', message: `block list ${state.url}: the copy could not be kept in ${dir} (${(e as Error).message}); it is in force until a restart`, fields: { list: state.url } });
    }
  };

  const schedule = (state: UrlState, delayMs: number) => {
    if (stopped) return;
    if (state.timer !== null) deps.timers.clearTimeout(state.timer);
    state.timer = deps.timers.setTimeout(() => {
      state.timer = null;
      void download(state);
    }, Math.max(0, delayMs));
  };

  const download = (state: UrlState): Promise<void> => {
    if (state.busy) return state.busy;
    const run = async () => {
      try {
        const r = await deps.fetch(state.url, state.list ? state.validators : null, settings.maxListBytes);
        if (stopped || !urls.has(state.url)) return;
        const at = now();
        if (r.kind === 'not-modified') {
          state.updatedAtMs = at;
          onEvent({ level: 'info', message: `block list ${state.url}: unchanged (HTTP 304)`, fields: { list: state.url } });
          if (settings.listsDir !== null) {
            const base = join(settings.listsDir, copyName(state.url));
            const meta: Meta = { url: state.url, etag: state.validators?.etag ?? null, lastModified: state.validators?.lastModified ?? null, fetchedAtMs: at };
            await deps.fs.writeFileAtomic(`${base}.meta.json`, new TextEncoder().encode(JSON.stringify(meta) + '\n')).catch(() => {});
          }
        } else {
          // Parsing lower-cases the bytes in place: the copy on disk keeps them as sent.
          const kept = r.body.slice();
          const blocked = state.list?.blocked ?? 0;
          state.list = parse(state.url, r.body, 'downloaded');
          // holdfast_blocked_total{list} is a counter: a new copy of the list carries it on.
          state.list.blocked = blocked;
          state.validators = r.validators;
          state.updatedAtMs = at;
          publish();
          await writeCopy(state, kept, { url: state.url, ...r.validators, fetchedAtMs: at });
        }
        if (state.lastError !== null) state.lastError = null;
        schedule(state, settings.refreshSeconds * 1000);
      } catch (e) {
        const why = (e as Error).message;
        state.lastError = why;
        const keeping = state.list && state.updatedAtMs !== null ? `keeping the list from ${new Date(state.updatedAtMs).toISOString()}` : 'no copy yet, so it blocks nothing';
        onEvent({ level: 'warn', message: `${why}; ${keeping}`, fields: { list: state.url } });
        schedule(state, Math.min(settings.refreshSeconds * 1000, RETRY_MS));
      } finally {
        state.busy = null;
      }
    };
    state.busy = run();
    return state.busy;
  };

  /** Reads the files of `next`; throws (changing nothing) for one that cannot be read. */
  const prepare = async (next: BlockSettings, first: boolean) => {
    const nextFiles = new Map<string, { list: BlockList; readAtMs: number }>();
    for (const entry of next.lists) {
      if (isUrl(entry) || nextFiles.has(entry)) continue;
      const list = await readFile(entry);
      list.blocked = files.get(entry)?.list.blocked ?? 0;
      nextFiles.set(entry, { list, readAtMs: now() });
    }
    return () => commit(next, nextFiles, first);
  };

  const commit = async (next: BlockSettings, nextFiles: Map<string, { list: BlockList; readAtMs: number }>, first: boolean) => {
    const before = settings;
    settings = next;
    files.clear();
    for (const [k, v] of nextFiles) files.set(k, v);
    for (const [url, state] of urls) {
      if (!next.lists.includes(url) || before.listsDir !== next.listsDir) {
        if (state.timer !== null) deps.timers.clearTimeout(state.timer);
        urls.delete(url);
      }
    }
    const fresh: UrlState[] = [];
    for (const entry of next.lists) {
      if (!isUrl(entry) || urls.has(entry)) continue;
      const state: UrlState = { url: entry, list: null, validators: null, updatedAtMs: null, lastError: null, timer: null, busy: null };
      urls.set(entry, state);
      await loadCopy(state);
      fresh.push(state);
    }
    stage.configure({ action: next.action, allowNames: next.allowNames });
    publish();
    for (const state of fresh) {
      const due = state.updatedAtMs === null ? 0 : state.updatedAtMs + next.refreshSeconds * 1000 - now();
      schedule(state, first || state.updatedAtMs !== null ? due : 0);
    }
  };

  return {
    start: async () => (await prepare(settings, true))(),
    prepare: (next) => prepare(next, false),
    status() {
      return settings.lists.map((entry): BlockListStatus => {
        if (isUrl(entry)) {
          const s = urls.get(entry);
          return { list: entry, kind: 'url', names: s?.list?.set.size ?? 0, bytes: s?.list?.set.bytes ?? 0, updatedAtMs: s?.updatedAtMs ?? null, blocked: s?.list?.blocked ?? 0, lastError: s?.lastError ?? null };
        }
        const f = files.get(entry);
        return { list: entry, kind: 'file', names: f?.list.set.size ?? 0, bytes: f?.list.set.bytes ?? 0, updatedAtMs: f?.readAtMs ?? null, blocked: f?.list.blocked ?? 0, lastError: null };
      });
    },
    stop() {
      stopped = true;
      for (const s of urls.values()) if (s.timer !== null) deps.timers.clearTimeout(s.timer);
    },
  };
}
