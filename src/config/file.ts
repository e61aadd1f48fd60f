// The config file: TOML (toml.io), read by smol-toml, a small, strict and widely used parser,
// onto the settings table's paths (`[cache]` then `maxBytes = "8M"`). Our own layer over it is
// strict too: every key must be a setting and every value its kind (derive.ts withDocument).

import { parse, TomlError } from 'smol-toml';
import { ErrorCode, HoldfastError } from '../core/errors.ts';
import type { FileSystem } from '../core/ports.ts';
import { DEFAULT_CONFIG, type ServerConfig } from './config.ts';
import { withDocument } from './derive.ts';

/**
 * smol-toml's tables have no prototype; ours are plain objects whose keys are all own data
 * properties, so a `[__proto__]` table is a key like any other (and unknown), never
 * Object.prototype.
 */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (v === null || typeof v !== 'object' || v instanceof Date) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: plain(x), enumerable: true, writable: true, configurable: true });
  return out;
}

/** `text` parsed; a syntax error names `source` and its line. */
export function parseToml(text: string, source = 'config'): Record<string, unknown> {
  try {
    return plain(parse(text)) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      const what = e.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
      // The mistake people make most: a string without its quotes (upstreams = [udp://9.9.9.9]).
      const bare = /^\s*([\w.-]+)\s*=\s*\[?\s*([A-Za-z][^"'\[\]]*?)\s*\]?\s*$/.exec(text.split(/\r?\n/)[e.line - 1] ?? '');
      const hint = bare && /invalid value/.test(what) ? ` (strings need quotes: "${bare[2]}")` : '';
      throw new HoldfastError(ErrorCode.config, `config: ${source} line ${e.line}: ${what}${hint}`);
    }
    throw e;
  }
}

/** A config file's text laid over `base`; each value checked for its kind and range. */
export function configFromText(text: string, source: string, base: ServerConfig = DEFAULT_CONFIG): ServerConfig {
  return withDocument(base, parseToml(text, source));
}

/** The file at `file` laid over `base`. */
export async function readConfigFile(fs: Pick<FileSystem, 'readText'>, file: string, base: ServerConfig = DEFAULT_CONFIG): Promise<ServerConfig> {
  let text: string | null;
  try {
    text = await fs.readText(file);
  } catch (e) {
    throw new HoldfastError(ErrorCode.config, `config: ${file} cannot be read (${(e as Error).message})`);
  }
  if (text === null) throw new HoldfastError(ErrorCode.config, `config: ${file} does not exist`);
  return configFromText(text, file, base);
}
