// `holdfast config check FILE`: the configuration `serve --config FILE` would run with (the
// file over the defaults, under any HOLDFAST_* variables set), checked and printed in the file's
// own format, or the first problem named with its key and exit 2.

import { defineCommand } from 'citty';
import type { Runtime } from '../../core/ports.ts';
import { formatConfig } from '../../config/derive.ts';
import { loadConfig } from '../../config/load.ts';
import { ErrorCode, HoldfastError } from '../../core/errors.ts';

export function configCommand(runtime: Runtime) {
  const check = defineCommand({
    meta: { name: 'check', description: 'Check a config file and print the effective configuration (with HOLDFAST_* variables applied)' },
    args: { file: { type: 'positional', description: 'The config file', required: true } },
    async run({ args }) {
      const file = String(args.file);
      const config = await loadConfig({ command: 'serve', rawArgs: [`--config=${file}`], env: (name) => runtime.env(name), fs: runtime.fs });
      runtime.stdout.write(`# ${file}: valid; the effective configuration follows\n${formatConfig(config)}`);
    },
  });
  return defineCommand({
    meta: { name: 'config', description: 'Work with config files (docs/configuration.md)' },
    subCommands: { check },
    run({ rawArgs }) {
      if (rawArgs.length === 0) throw new HoldfastError(ErrorCode.config, 'config: say what to do: holdfast config check FILE');
      if (rawArgs[0] !== 'check') throw new HoldfastError(ErrorCode.config, `config: unknown subcommand "${rawArgs[0]}" (subcommands: check)`);
    },
  });
}
