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
import { createCounters } from '../../core/counters.ts';
import type { Next } from '../../core/answer.ts';
import { createRebindFilter } from '../../pipeline/forward/rebind.ts';
import { createRouter } from '../../pipeline/forward/route.ts';
import { parseForwardZones } from '../../pipeline/forward/zones.ts';
import { localStageOptions, NO_FILES } from '../../pipeline/local/setup.ts';
import { createLocalStage } from '../../pipeline/local/stage.ts';
import { createRewriteStage } from '../../pipeline/rewrite/stage.ts';
import { createLocalFilesService } from '../../services/local-files/service.ts';

/** Explaining asks no upstream: the router is built only to say where a name would go. */
const NEVER_ASKED: Next = () => {
  throw new HoldfastError(ErrorCode.config, 'explain: asks no upstream');
};

export function explainCommand(runtime: Runtime) {
  return defineCommand({
    meta: { name: 'explain', description: 'Say which stage would answer NAME: local data, a rewrite, a block list and rule, a forward zone, or the upstreams' },
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
      // The stages that can answer on their own, built as serve builds them (chain.ts), in its order.
      const zones = parseForwardZones(config.forward.zones);
      const counters = createCounters();
      const local = createLocalStage(localStageOptions(config.local, NO_FILES, zones.map((z) => z.name)), runtime.clock);
      const files = createLocalFilesService(config.local, runtime.fs, runtime.timers, counters, (data) => local.replace(localStageOptions(config.local, data, zones.map((z) => z.name))));
      await files.load();
      files.stop();
      const rewrite = createRewriteStage({ rules: config.rewrite.rules, ttlSeconds: config.local.ttlSeconds });
      const router = createRouter(
        { main: NEVER_ASKED, zones: zones.map((zone) => ({ zone, next: NEVER_ASKED })), rebind: createRebindFilter({ enabled: config.rebind.protection === 'on', allow: config.rebind.allow }) },
        counters,
      );
      const explainers = [local.explain, rewrite.explain, block.explain, (name: string) => router.explain(name)];
      for (const e of explainName(explainers, String(args.name), qtype)) runtime.stdout.write(`${e.stage}: ${e.text}\n`);
    },
  });
}
