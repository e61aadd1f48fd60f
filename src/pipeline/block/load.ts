// A list's bytes into a BlockList: parsed, duplicates merged, packed. Pure; whoever has the
// bytes (a file, a download, a test) calls it and reports what it returns.

import { createNameSetBuilder } from './name-set.ts';
import { parseList, type ParseReport } from './parse.ts';
import { blockList, type BlockList } from './stage.ts';

export interface LoadedList {
  readonly list: BlockList;
  readonly report: ParseReport;
}

/** `bytes` is changed (names are lower-cased in place): pass a copy to keep the original. */
export function loadBlockList(label: string, bytes: Uint8Array): LoadedList {
  // Names take about half of a typical list's bytes (hosts lines carry "0.0.0.0 " each): a
  // first guess that saves most of the buffer's regrowth.
  const builder = createNameSetBuilder(Math.ceil(bytes.length * 0.75));
  const report = parseList(bytes, builder);
  return { list: blockList(label, builder.build(), report.exceptions), report };
}
