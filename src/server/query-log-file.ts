// The query log written to a file, one JSON object per line, when --query-log-file is given
// (off by default: each write wears a router's flash). The query path only pushes a line into
// a buffer; the buffer goes to disk on a timer or once it holds a few KB, so a slow or failing
// disk never holds an answer up. The file is rotated by size: PATH → PATH.1 → ... → PATH.N,
// the oldest dropped, so the log takes at most (N + 1) × maxFileBytes.

import type { Counters } from '../core/counters.ts';
import type { FileSystem, TimerHandle, Timers } from '../core/ports.ts';
import type { QueryLogEntry } from './query-log.ts';

export interface QueryLogFileOptions {
  readonly file: string;
  /** The file is rotated before a write would take it past this (a single longer line still goes in whole). */
  readonly maxFileBytes: number;
  /** Rotated files kept: PATH.1 (newest) to PATH.N. At least 1. */
  readonly rotatedFiles: number;
  /** How long a line may wait in memory before it is written. */
  readonly flushIntervalMs?: number;
  /** A write starts at once when the buffer holds this much. */
  readonly flushBytes?: number;
  /** While the disk fails, lines beyond this much are dropped (counted) rather than kept. */
  readonly maxBufferedBytes?: number;
}

export interface QueryLogFile {
  /** Never waits and never throws: the line is buffered, or dropped and counted. */
  append(entry: QueryLogEntry): void;
  /** Writes what is buffered (one attempt); resolves when done, never rejects. */
  flush(): Promise<void>;
  /** Stops the timer and writes what is buffered. */
  stop(): Promise<void>;
}

export const QUERY_LOG_FLUSH_MS = 1_000;
const FLUSH_BYTES = 4_096;
const MAX_BUFFERED_BYTES = 64 * 1024;

/** An entry as one line: QueryLogEntry's fields with the time as an ISO 8601 string. */
export function queryLogLine(e: QueryLogEntry): string {
  const { timeMs, ...rest } = e;
  return JSON.stringify({ time: new Date(timeMs).toISOString(), ...rest }) + '\n';
}

export function createQueryLogFile(
  options: QueryLogFileOptions,
  fs: Pick<FileSystem, 'appendBytes' | 'fileSize' | 'rename'>,
  timers: Timers,
  counters: Counters,
): QueryLogFile {
  const { file, maxFileBytes } = options;
  const rotated = Math.max(1, options.rotatedFiles);
  const flushMs = options.flushIntervalMs ?? QUERY_LOG_FLUSH_MS;
  const flushBytes = options.flushBytes ?? FLUSH_BYTES;
  const maxBuffered = options.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
  const encoder = new TextEncoder();
  let lines: string[] = [];
  // Characters, not bytes: only a bound on memory, where the difference does not matter.
  let buffered = 0;
  /** The file's size as we last knew it; null: ask the disk (at start, after a failure). */
  let size: number | null = null;
  let timer: TimerHandle | null = null;
  let inFlight: Promise<void> | null = null;
  let stopped = false;

  const arm = () => {
    if (timer !== null || stopped) return;
    timer = timers.setTimeout(() => {
      timer = null;
      void flush();
    }, flushMs);
  };

  async function rotate(): Promise<void> {
    // Oldest first, so nothing is overwritten before it moved on; rename replaces PATH.N.
    for (let i = rotated - 1; i >= 1; i--) {
      if ((await fs.fileSize(`${file}.${i}`)) !== null) await fs.rename(`${file}.${i}`, `${file}.${i + 1}`);
    }
    await fs.rename(file, `${file}.1`);
    size = 0;
  }

  /** Writes `batch` in chunks that fit the file, rotating between them; returns how many lines were written. */
  async function writeBatch(batch: string[]): Promise<number> {
    let done = 0;
    if (size === null) size = (await fs.fileSize(file)) ?? 0;
    while (done < batch.length) {
      const chunk: Uint8Array[] = [];
      let chunkBytes = 0;
      let i = done;
      for (; i < batch.length; i++) {
        const b = encoder.encode(batch[i]);
        if (size + chunkBytes + b.length > maxFileBytes && size + chunkBytes > 0) break;
        chunk.push(b);
        chunkBytes += b.length;
      }
      if (chunk.length === 0) {
        await rotate();
        continue;
      }
      const bytes = new Uint8Array(chunkBytes);
      let at = 0;
      for (const b of chunk) {
        bytes.set(b, at);
        at += b.length;
      }
      await fs.appendBytes(file, bytes);
      size += chunkBytes;
      done = i;
    }
    return done;
  }

  async function writeOut(): Promise<void> {
    const batch = lines;
    lines = [];
    buffered = 0;
    let done = 0;
    try {
      done = await writeBatch(batch);
    } catch {
      counters.query_log_write_failures++;
      size = null;
      // Kept for the next attempt, in order, as far as the bound allows; the rest is dropped.
      const keep: string[] = [];
      let keptChars = 0;
      for (const line of batch.slice(done).concat(lines)) {
        if (keptChars + line.length > maxBuffered) counters.query_log_lines_dropped++;
        else {
          keep.push(line);
          keptChars += line.length;
        }
      }
      lines = keep;
      buffered = keptChars;
    }
    if (lines.length > 0) arm();
  }

  async function flush(): Promise<void> {
    while (inFlight) await inFlight;
    if (lines.length === 0) return;
    inFlight = writeOut();
    try {
      await inFlight;
    } finally {
      inFlight = null;
    }
  }

  return {
    append(entry) {
      if (stopped) return;
      const line = queryLogLine(entry);
      if (buffered + line.length > maxBuffered) {
        counters.query_log_lines_dropped++;
        return;
      }
      lines.push(line);
      buffered += line.length;
      if (buffered >= flushBytes && !inFlight) void flush();
      else arm();
    },
    flush,
    async stop() {
      stopped = true;
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
      await flush();
    },
  };
}
