// Local data around the pipeline's local stage: the hosts, lease and records files read before
// any listener opens, re-read when one changes (the poll) or on SIGHUP, and put in force whole.

import type { ServerConfig } from '../config/config.ts';
import type { Counters } from '../core/counters.ts';
import type { Runtime } from '../core/ports.ts';
import type { createPipeline } from '../pipeline/chain.ts';
import { localStageOptions, parseRecordSettings, type LocalFileData } from '../pipeline/local/setup.ts';
import { createLocalFilesService, type LocalFilesEvent, type LocalFilesService } from '../services/local-files/service.ts';

export interface LocalData {
  readonly files: LocalFilesService;
  /** Throws, changing nothing, for a --record that does not parse. */
  check(next: ServerConfig['local']): void;
  /** Every file read again under `next`'s settings. */
  reconfigure(next: ServerConfig['local']): Promise<void>;
}

export async function startLocalData(
  config: ServerConfig,
  runtime: Runtime,
  pipeline: ReturnType<typeof createPipeline>,
  counters: Counters,
  onEvent?: (event: LocalFilesEvent) => void,
): Promise<LocalData> {
  let settings = config.local;
  let lastConflicts = '';
  const apply = (files: LocalFileData) => {
    // A forward zone over a private reverse zone takes it from local data (RFC 6303 zones are
    // answered here only while nobody has been named to answer them).
    const options = localStageOptions(settings, files, pipeline.forwardZones);
    pipeline.local.replace(options);
    // Once per change of the clashes, not on every lease renewal.
    const conflicts = options.conflicts.join('\n');
    if (conflicts !== lastConflicts && options.conflicts.length > 0) onEvent?.({ kind: 'conflicts', conflicts: options.conflicts });
    lastConflicts = conflicts;
  };
  const files = createLocalFilesService(config.local, runtime.fs, runtime.timers, counters, apply, onEvent);
  await files.load();
  return {
    files,
    check: (next) => void parseRecordSettings(next.records),
    async reconfigure(next) {
      settings = next;
      await files.reconfigure(next);
    },
  };
}
