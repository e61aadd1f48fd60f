// From settings and file contents to the local stage's options: the one place that knows
// what each setting means to the stage. Files are read by src/services/local-files.ts.

import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import { nameKeyOf } from './names.ts';
import { parseRecord, type LocalRecord } from './records.ts';
import type { HostsEntry, Lease } from './sources.ts';
import type { LocalStageOptions } from './stage.ts';
import { buildTable } from './table.ts';

/** The settings the stage reads (ServerConfig['local']). */
export interface LocalSettings {
  readonly records: readonly string[];
  readonly domain: string;
  readonly ttlSeconds: number;
}

/** What the watched files held when last read. */
export interface LocalFileData {
  readonly hosts: ReadonlyArray<{ readonly file: string; readonly entries: readonly HostsEntry[] }>;
  readonly leases: ReadonlyArray<{ readonly file: string; readonly leases: readonly Lease[] }>;
  readonly recordFiles: ReadonlyArray<{ readonly file: string; readonly records: ReadonlyArray<LocalRecord & { readonly line: number }> }>;
}

export const NO_FILES: LocalFileData = { hosts: [], leases: [], recordFiles: [] };

/** --record values read; the first that does not parse is a configuration error naming it. */
export function parseRecordSettings(lines: readonly string[]): LocalRecord[] {
  return lines.map((line) => {
    const r = parseRecord(line);
    if (typeof r === 'string') throw new HoldfastError(ErrorCode.config, `--record: "${line}" ${r}`);
    return r;
  });
}

/** --local-domain as the stage takes it: null for "none". */
export function domainOf(settings: Pick<LocalSettings, 'domain'>): string | null {
  return settings.domain === 'none' ? null : settings.domain.replace(/\.$/, '');
}

export function localStageOptions(settings: LocalSettings, files: LocalFileData, exemptZones: readonly string[] = []): LocalStageOptions & { readonly conflicts: readonly string[] } {
  const domain = domainOf(settings);
  const records = [
    ...parseRecordSettings(settings.records).map((record) => ({ origin: 'record', record })),
    ...files.recordFiles.flatMap(({ file, records: rs }) => rs.map((record) => ({ origin: `records ${file}:${record.line}`, record }))),
  ];
  const table = buildTable({ records, hosts: files.hosts, leases: files.leases }, domain === null ? null : nameKeyOf(domain));
  return { table, domain, ttlSeconds: settings.ttlSeconds, exemptZones, conflicts: table.conflicts };
}
