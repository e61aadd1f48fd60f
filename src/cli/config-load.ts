// Where a configuration comes from, in order of precedence: flags, then HOLDFAST_* environment
// variables, then the config file (--config or HOLDFAST_CONFIG), then the defaults.
//
// The environment rule: a flag's name upper-cased, dashes as underscores, after HOLDFAST_
// (--cache-memory is HOLDFAST_CACHE_MEMORY). A repeatable flag's variable holds a list split on
// commas or spaces (HOLDFAST_UPSTREAM="udp://9.9.9.9 udp://1.1.1.1"). An empty variable is unset.

import type { ArgsDef } from 'citty';
import { configFromText } from '../config/config-file.ts';
import { configError, DEFAULT_CONFIG, validateConfig, type ServerConfig } from '../config/config.ts';
import { ErrorCode, HoldfastError } from '../core/errors.ts';
import type { FileSystem } from '../core/ports.ts';
import { LOCAL_KEYWORD, NONE_KEYWORD, PRIVATE_KEYWORD } from '../gate/admission.ts';
import { parseCidr } from '../core/net/cidr.ts';
import { repeated } from './args.ts';

/** Flags that may be given more than once; their variables hold lists. */
export const REPEATABLE_FLAGS = new Set(['listen', 'upstream', 'bootstrap', 'allow', 'deny', 'rate-limit-exempt']);

export function envName(flag: string): string {
  return `HOLDFAST_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * The flags with the environment filled in beneath them: a variable counts only for a flag not
 * given on the command line, so flags win.
 */
export function withEnv(
  rawArgs: readonly string[],
  args: Record<string, unknown>,
  def: ArgsDef,
  env: (name: string) => string | undefined,
): { rawArgs: string[]; args: Record<string, unknown> } {
  const raw = [...rawArgs];
  const out = { ...args };
  for (const name of Object.keys(def)) {
    if (repeated(rawArgs, name).length > 0) continue;
    const value = env(envName(name));
    if (value === undefined || value === '') continue;
    if (REPEATABLE_FLAGS.has(name)) {
      for (const v of value.split(/[\s,]+/).filter(Boolean)) raw.push(`--${name}=${v}`);
    } else {
      raw.push(`--${name}=${value}`);
      out[name] = value;
    }
  }
  return { rawArgs: raw, args: out };
}

/** The file's settings over the defaults, type-checked (ranges are checked on the whole). */
export async function readConfigFile(fs: Pick<FileSystem, 'readText'>, file: string): Promise<ServerConfig> {
  let text: string | null;
  try {
    text = await fs.readText(file);
  } catch (e) {
    throw new HoldfastError(ErrorCode.config, `config: ${file} cannot be read (${(e as Error).message})`);
  }
  if (text === null) throw new HoldfastError(ErrorCode.config, `config: ${file} does not exist`);
  return configFromText(text, file, DEFAULT_CONFIG);
}

function checkPrefixes(key: string, list: readonly string[], keywords: readonly string[]): void {
  list.forEach((v, i) => {
    if (keywords.includes(v)) return;
    const c = typeof v === 'string' ? parseCidr(v) : 'not a string';
    if (typeof c === 'string') throw configError(`${key}[${i}]`, `"${v}" is not an address or ADDR/BITS${keywords.length ? ` or ${keywords.join(', ')}` : ''} (${c})`);
  });
}

/** validateConfig, and the prefix lists parsed, so a bad prefix from a file names its key. */
export function checkConfig(c: ServerConfig): ServerConfig {
  validateConfig(c);
  checkPrefixes('access.allow', c.access.allow, [PRIVATE_KEYWORD, LOCAL_KEYWORD]);
  checkPrefixes('access.deny', c.access.deny, [PRIVATE_KEYWORD]);
  checkPrefixes('rateLimit.exempt', c.rateLimit.exempt, [PRIVATE_KEYWORD, NONE_KEYWORD]);
  return c;
}
