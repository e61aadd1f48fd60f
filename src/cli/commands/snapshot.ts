// `holdfast snapshot inspect FILE`: what a cache file holds and whether it is whole, without
// starting a server (for a router's shell, before trusting or deleting a file).

import { defineCommand } from 'citty';
import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { Runtime } from '../../core/ports.ts';
import { decodeSnapshot, SnapshotError } from '../../services/snapshot/format.ts';
import { rejectUnknownFlags } from '../args.ts';

export const snapshotArgs = {
  action: { type: 'positional', description: 'inspect: check FILE whole and print its version, time, entries and size', required: true },
  file: { type: 'positional', description: 'A cache file (the --cache-file of serve)', required: false },
} as const;

/** "3 h 5 min ago"; two units are enough to judge a file by. */
export function formatAge(ms: number): string {
  if (ms < 0) return 'in the future: this clock reads earlier than the one that wrote it';
  const s = Math.floor(ms / 1000);
  const units: Array<[string, number]> = [['d', 86_400], ['h', 3_600], ['min', 60], ['s', 1]];
  const parts: string[] = [];
  let rest = s;
  for (const [name, size] of units) {
    if (rest >= size || (name === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(rest / size)} ${name}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  // "1 h 0 min" reads oddly; drop a trailing zero unit.
  if (parts.length === 2 && parts[1].startsWith('0 ')) parts.pop();
  return `${parts.join(' ')} ago`;
}

export function snapshotCommand(runtime: Runtime) {
  return defineCommand({
    meta: { name: 'snapshot', description: 'Look at a cache file: holdfast snapshot inspect FILE' },
    args: snapshotArgs,
    async run({ rawArgs, args }) {
      rejectUnknownFlags(rawArgs, snapshotArgs);
      if (args.action !== 'inspect') throw new HoldfastError(ErrorCode.config, `snapshot: unknown action "${args.action}" (actions: inspect)`);
      const file = args.file;
      if (!file) throw new HoldfastError(ErrorCode.config, 'snapshot inspect: needs a FILE');
      // A bad file is a failure at run time (exit 1), not a usage mistake (2).
      const fail = (problem: string): never => {
        runtime.stderr.write(`holdfast: snapshot inspect: ${file}: ${problem}\n`);
        return runtime.exit(1);
      };
      let bytes: Uint8Array | null = null;
      try {
        bytes = await runtime.fs.readBytes(file);
      } catch (e) {
        fail(`cannot be read (${(e as Error).message ?? e})`);
      }
      if (bytes === null) return fail('no such file');
      let info: ReturnType<typeof decodeSnapshot>['info'];
      try {
        // Decode it all, not only the header: "whole" must mean every entry reads back.
        info = decodeSnapshot(bytes).info;
      } catch (e) {
        return fail(e instanceof SnapshotError ? e.message : `unreadable (${(e as Error).message ?? e})`);
      }
      const created = Number.isFinite(info.createdAtMs) && Math.abs(info.createdAtMs) < 8.64e15 ? new Date(info.createdAtMs).toISOString() : String(info.createdAtMs);
      runtime.stdout.write(
        [
          `file        ${file}`,
          `version     ${info.version}`,
          `created at  ${created} (${formatAge(runtime.clock.now() - info.createdAtMs)})`,
          `entries     ${info.entries}`,
          `size        ${info.bytes} bytes`,
          '',
        ].join('\n'),
      );
    },
  });
}
