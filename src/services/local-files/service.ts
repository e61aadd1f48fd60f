// Keeps local data in step with its files: hosts files (odhcpd rewrites its own on every
// lease), dnsmasq lease files and records files are read at start and on SIGHUP, and polled
// every POLL_MS for a change in size or modification time, which is then read and put in force
// at once. Polling, not inotify: it works the same on every runtime and file system (a router's
// /tmp is tmpfs, and a lease file is replaced by rename), and a stat every 2 s costs nothing.
// Nothing here logs: what happened is reported as events.

import type { Counters } from '../../core/counters.ts';
import type { FileStat, FileSystem, TimerHandle, Timers } from '../../core/ports.ts';
import type { LocalFileData } from '../../pipeline/local/setup.ts';
import { parseHosts, parseLeases, type BadLine } from '../../pipeline/local/sources.ts';
import { parseRecordsFile } from '../../pipeline/local/records.ts';

/** A change is answered within this and the time to read the file: well under 5 s. */
export const POLL_MS = 2_000;

export type LocalFileKind = 'hosts' | 'dhcp-leases' | 'records';

export interface LocalFilesSettings {
  readonly hosts: readonly string[];
  readonly dhcpLeases: readonly string[];
  readonly recordFiles: readonly string[];
}

export type LocalFilesEvent =
  /** Read (at start, on SIGHUP, or after a change): how many entries, and the lines skipped. */
  | { readonly kind: 'loaded'; readonly source: LocalFileKind; readonly file: string; readonly entries: number; readonly bad: readonly BadLine[]; readonly why: 'start' | 'changed' | 'reload' }
  /** Not there (yet): a lease file appears once the DHCP server writes it. Answered as empty. */
  | { readonly kind: 'missing'; readonly source: LocalFileKind; readonly file: string }
  /** There but unreadable: the last data read from it stays in force. */
  | { readonly kind: 'unreadable'; readonly source: LocalFileKind; readonly file: string; readonly error: string }
  /** Records left out because they clash with a CNAME at the same name, each with where it came from. */
  | { readonly kind: 'conflicts'; readonly conflicts: readonly string[] };

export interface LocalFilesService {
  /** Reads every file and puts the data in force; never throws (a file's problem is an event). */
  load(): Promise<void>;
  /** Polls every POLL_MS until stop(); with no files a poll is a no-op. */
  start(): void;
  stop(): void;
  /** One poll: files whose size or time changed are read again; resolves once applied. */
  poll(): Promise<void>;
  /** SIGHUP: new file lists, every file read again whether it changed or not. */
  reconfigure(settings: LocalFilesSettings): Promise<void>;
}

interface Watched {
  readonly source: LocalFileKind;
  readonly file: string;
  /** What the last look found: null when missing, undefined before the first look. */
  seen: FileStat | null | undefined;
  data: LocalFileData[keyof LocalFileData][number] | null;
}

function same(a: FileStat | null | undefined, b: FileStat | null): boolean {
  if (a === undefined) return false;
  if (a === null || b === null) return a === b;
  return a.sizeBytes === b.sizeBytes && a.mtimeMs === b.mtimeMs;
}

function watchedOf(settings: LocalFilesSettings): Watched[] {
  const w = (source: LocalFileKind) => (file: string): Watched => ({ source, file, seen: undefined, data: null });
  return [...settings.hosts.map(w('hosts')), ...settings.dhcpLeases.map(w('dhcp-leases')), ...settings.recordFiles.map(w('records'))];
}

/** The file's text read into its kind's data, with the lines that could not be read. */
function parse(source: LocalFileKind, file: string, text: string): { data: Watched['data']; entries: number; bad: BadLine[] } {
  if (source === 'hosts') {
    const r = parseHosts(text);
    return { data: { file, entries: r.entries }, entries: r.entries.length, bad: r.bad };
  }
  if (source === 'dhcp-leases') {
    const r = parseLeases(text);
    return { data: { file, leases: r.leases }, entries: r.leases.length, bad: r.bad };
  }
  const r = parseRecordsFile(text);
  return { data: { file, records: r.records }, entries: r.records.length, bad: r.bad };
}

export function createLocalFilesService(
  initial: LocalFilesSettings,
  fs: Pick<FileSystem, 'readText' | 'stat'>,
  timers: Timers,
  counters: Counters,
  apply: (files: LocalFileData) => void,
  onEvent: (event: LocalFilesEvent) => void = () => {},
): LocalFilesService {
  let watched = watchedOf(initial);
  let timer: TimerHandle | null = null;
  let running = false;
  let busy: Promise<void> | null = null;

  function current(): LocalFileData {
    const pick = <K extends keyof LocalFileData>(source: LocalFileKind) =>
      watched.filter((w) => w.source === source && w.data !== null).map((w) => w.data) as unknown as LocalFileData[K];
    return { hosts: pick<'hosts'>('hosts'), leases: pick<'leases'>('dhcp-leases'), recordFiles: pick<'recordFiles'>('records') };
  }

  /** Looks at one file; true when what is in force from it changed. */
  async function refresh(w: Watched, why: 'start' | 'changed' | 'reload', force: boolean): Promise<boolean> {
    let stat: FileStat | null;
    try {
      stat = await fs.stat(w.file);
    } catch (e) {
      if (w.seen !== undefined) return false;
      onEvent({ kind: 'unreadable', source: w.source, file: w.file, error: (e as Error).message });
      w.seen = null;
      return false;
    }
    if (!force && same(w.seen, stat)) return false;
    const before = w.seen;
    w.seen = stat;
    if (stat === null) {
      if (before !== null) onEvent({ kind: 'missing', source: w.source, file: w.file });
      const had = w.data !== null;
      w.data = null;
      return had;
    }
    let text: string | null;
    try {
      text = await fs.readText(w.file);
    } catch (e) {
      onEvent({ kind: 'unreadable', source: w.source, file: w.file, error: (e as Error).message });
      return false;
    }
    // Gone between the stat and the read (a rename in progress): looked at again next poll.
    if (text === null) {
      w.seen = undefined;
      return false;
    }
    const r = parse(w.source, w.file, text);
    counters.local_file_loads++;
    counters.local_bad_lines += r.bad.length;
    w.data = r.data;
    onEvent({ kind: 'loaded', source: w.source, file: w.file, entries: r.entries, bad: r.bad, why });
    return true;
  }

  async function round(why: 'start' | 'changed' | 'reload', force: boolean): Promise<void> {
    let changed = why !== 'changed';
    for (const w of watched) if (await refresh(w, why, force)) changed = true;
    if (changed) apply(current());
  }

  /** One round at a time: a poll waits for a reload in progress, and the other way round. */
  function serial(fn: () => Promise<void>): Promise<void> {
    const run = (busy ?? Promise.resolve()).then(fn, fn);
    busy = run.finally(() => {
      if (busy === run) busy = null;
    });
    return run;
  }

  const schedule = () => {
    if (!running) return;
    timer = timers.setTimeout(() => {
      timer = null;
      void serial(() => round('changed', false)).finally(schedule);
    }, POLL_MS);
  };

  return {
    load: () => serial(() => round('start', true)),
    poll: () => serial(() => round('changed', false)),
    start() {
      if (running) return;
      running = true;
      schedule();
    },
    stop() {
      running = false;
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
    },
    reconfigure(settings) {
      return serial(async () => {
        watched = watchedOf(settings);
        await round('reload', true);
      });
    },
  };
}
