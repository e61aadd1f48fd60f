// Where a configuration comes from, in order of precedence: flags, then HOLDFAST_* environment
// variables, then the config file (--config or HOLDFAST_CONFIG), then the defaults. Read again
// on SIGHUP.

import type { FileSystem } from '../core/ports.ts';
import { DEFAULT_CONFIG, validateConfig, type ServerConfig } from './config.ts';
import { envName, repeated, withEnvironment, withFlags } from './derive.ts';
import { readConfigFile } from './file.ts';
import type { Command } from './settings.ts';

export interface ConfigSources {
  readonly command: Command;
  /** The command line as given (citty's rawArgs). */
  readonly rawArgs: readonly string[];
  readonly env: (name: string) => string | undefined;
  readonly fs: Pick<FileSystem, 'readText'>;
}

/** The config file named by --config, else by HOLDFAST_CONFIG; null when neither is set. */
export function configFileOf(sources: Pick<ConfigSources, 'rawArgs' | 'env'>): string | null {
  const given = repeated(sources.rawArgs, 'config');
  return given.at(-1) || sources.env(envName('config')) || null;
}

/** The whole configuration, checked: a HoldfastError names the key, flag or variable at fault. */
export async function loadConfig(sources: ConfigSources): Promise<ServerConfig> {
  const file = configFileOf(sources);
  const fromFile = file ? await readConfigFile(sources.fs, file, DEFAULT_CONFIG) : DEFAULT_CONFIG;
  return validateConfig(withFlags(withEnvironment(fromFile, sources.command, sources.env), sources.command, sources.rawArgs));
}
