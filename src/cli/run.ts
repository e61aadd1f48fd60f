// The command line: routes to a subcommand, prints --help, and turns a thrown error into one
// clear line on stderr and a non-zero exit. citty's runMain would exit on its own terms.

import { defineCommand, runCommand, type CommandDef } from 'citty';
import { isHoldfastError, ErrorCode } from '../core/errors.ts';
import type { Runtime } from '../core/ports.ts';
import { VERSION } from '../core/version.ts';
import { configCommand } from './commands/config.ts';
import { helpText } from './help.ts';
import { explainCommand } from './commands/explain.ts';
import { queryCommand } from './commands/query.ts';
import { relayCommand } from './commands/relay.ts';
import { serveCommand } from './commands/serve.ts';
import { snapshotCommand } from './commands/snapshot.ts';
import { versionCommand } from './commands/version.ts';

/** Exit codes: 1 for a failure at run time, 2 for a usage or configuration mistake. */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const;

export function mainCommand(runtime: Runtime) {
  return defineCommand({
    meta: { name: 'holdfast', version: VERSION, description: 'A DNS cache and forwarder that keeps resolving when the uplink is lossy, slow or gone' },
    subCommands: {
      serve: serveCommand(runtime),
      query: queryCommand(runtime),
      relay: relayCommand(runtime),
      config: configCommand(runtime),
      explain: explainCommand(runtime),
      snapshot: snapshotCommand(runtime),
      version: versionCommand(runtime),
    },
  });
}

/**
 * The command whose help was asked for: `config check --help` is check's, not config's. The
 * parent is given the full path as its name, so the usage line reads `holdfast config check`.
 */
async function helpTarget(cmd: CommandDef, parent: CommandDef, rest: readonly string[]): Promise<[CommandDef, CommandDef]> {
  const subs = (await cmd.subCommands) as Record<string, CommandDef> | undefined;
  const name = rest.find((a) => !a.startsWith('-'));
  if (!subs || name === undefined || !(name in subs)) return [cmd, parent];
  const parentMeta = await parent.meta;
  const meta = await cmd.meta;
  const path = defineCommand({ meta: { ...parentMeta, name: `${parentMeta?.name} ${meta?.name}` } });
  return helpTarget(subs[name], path, rest.slice(rest.indexOf(name) + 1));
}

export async function runCli(runtime: Runtime): Promise<void> {
  const main = mainCommand(runtime);
  const args = [...runtime.args];
  const subs = (await main.subCommands) as Record<string, CommandDef>;
  const wantsHelp = args.includes('--help') || args.includes('-h');
  const name = args[0];
  if (args.length === 0 || (wantsHelp && !(name in subs))) {
    runtime.stdout.write((await helpText(main)) + '\n');
    return;
  }
  if (name === '--version' || name === '-v') {
    args[0] = 'version';
  } else if (!(name in subs)) {
    runtime.stderr.write(`holdfast: unknown command "${name}" (commands: ${Object.keys(subs).join(', ')}; see --help)\n`);
    runtime.exit(ExitCode.usage);
  }
  const sub = subs[args[0]];
  if (wantsHelp) {
    const [cmd, parent] = await helpTarget(sub, main, args.slice(1));
    runtime.stdout.write((await helpText(cmd, parent)) + '\n');
    return;
  }
  try {
    await runCommand(sub, { rawArgs: args.slice(1) });
  } catch (e) {
    const usage = isHoldfastError(e, ErrorCode.config) || /required|missing/i.test((e as Error).message ?? '');
    runtime.stderr.write(`holdfast: ${(e as Error).message ?? String(e)}\n`);
    runtime.exit(usage ? ExitCode.usage : ExitCode.failure);
  }
}
