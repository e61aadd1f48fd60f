// `holdfast explain NAME [TYPE]`: which stage would answer NAME, and why, from the same
// configuration `serve` would run with (flags, variables, --config). It reads the list files and
// the kept copies of URL lists; it downloads nothing and needs no running server (a running
// one answers the same at /api/explain).

import { defineCommand } from 'citty';
import { loadConfig } from '../../config/load.ts';
import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { Runtime } from '../../core/ports.ts';
import { typeNumber } from '../../core/wire/type-names.ts';
import { createBlockStage } from '../../pipeline/block/stage.ts';
import { explainName } from '../../pipeline/explain.ts';
import { createBlockListService } from '../../services/block-lists/service.ts';
import { serveArgs } from './serve.ts';

export function explainCommand(runtime: Runtime) {
  return defineCommand({
    meta: { name: 'explain', description: 'Say which stage would answer NAME, and which block list and rule blocks it' },
    args: {
      name: { type: 'positional', description: 'The name', required: true },
      type: { type: 'positional', description: 'Record type (default A)', required: false, default: 'A' },
      ...serveArgs,
    },
    async run({ rawArgs, args }) {
      const qtype = typeNumber(String(args.type ?? 'A'));
      if (qtype === null) throw new HoldfastError(ErrorCode.config, `explain: "${args.type}" is not a record type`);
      const flags = rawArgs.filter((a) => a !== args.name && a !== args.type);
      const config = await loadConfig({ command: 'serve', rawArgs: flags, env: (name) => runtime.env(name), fs: runtime.fs });
      const block = createBlockStage({ action: config.block.action, allowNames: config.block.allowNames });
      const lists = createBlockListService(
        config.block,
        {
          fs: runtime.fs,
          timers: runtime.timers,
          clock: runtime.clock,
          fetch: () => Promise.reject(new Error('explain downloads nothing')),
        },
        block,
      );
      await lists.start();
      lists.stop();
      for (const l of lists.status()) if (l.kind === 'url' && l.names === 0) runtime.stdout.write(`note: ${l.list} has no kept copy under --lists-dir yet, so it is left out\n`);
      for (const e of explainName([block.explain], String(args.name), qtype)) runtime.stdout.write(`${e.stage}: ${e.text}\n`);
    },
  });
}
