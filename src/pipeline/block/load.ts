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
  // Room for every line as a record (its bytes and a 5-byte head, less its newline), so the
  // buffer never doubles: a regrown copy of a 30 MiB list would stay in memory until the next
  // garbage collection, which an idle server may not run for a long time.
  let lines = 1;
  for (let p = bytes.indexOf(0x0a); p >= 0; p = bytes.indexOf(0x0a, p + 1)) lines++;
  const builder = createNameSetBuilder(bytes.length + 4 * lines, lines);
  const report = parseList(bytes, builder);
  return { list: blockList(label, builder.build(), report.exceptions), report };
}
