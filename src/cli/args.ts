// Flag handling citty leaves to us: flags given more than once, and flags it does not know or
// that lack their value (which it would silently ignore; a typo must stop the program instead).

import type { ArgsDef } from 'citty';
import { ErrorCode, HoldfastError } from '../core/errors.ts';
import { parseProxyUrl } from '../core/net/proxy-url.ts';

/** Every value of a repeatable `--name VALUE` or `--name=VALUE` flag, in order. */
export function repeated(rawArgs: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i];
    if (a === `--${name}` && i + 1 < rawArgs.length) values.push(rawArgs[++i]);
    else if (a.startsWith(`--${name}=`)) values.push(a.slice(name.length + 3));
  }
  return values;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

export function rejectUnknownFlags(rawArgs: readonly string[], def: ArgsDef): void {
  const known = new Set<string>(['help', 'h']);
  for (const [name, arg] of Object.entries(def)) {
    known.add(name);
    known.add(kebab(name));
    if (arg.type === 'boolean') known.add(`no-${kebab(name)}`);
    const aliases = 'alias' in arg ? arg.alias : undefined;
    for (const a of Array.isArray(aliases) ? aliases : aliases ? [aliases] : []) known.add(a);
  }
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i];
    if (a === '--') break;
    const m = /^--?([^=]+)/.exec(a);
    if (!m || /^-\d/.test(a)) continue;
    if (!known.has(m[1])) throw new HoldfastError(ErrorCode.config, `unknown flag "${a.split('=')[0]}" (see --help)`);
    // citty would take "--upstream" with nothing after it as no flag at all, and the default
    // (resolv.conf, say) would quietly apply.
    const next = rawArgs[i + 1];
    const takesValue = Object.entries(def).some(([name, arg]) => arg.type === 'string' && (name === m[1] || kebab(name) === m[1]));
    if (takesValue && !a.includes('=') && (next === undefined || next.startsWith('--'))) {
      throw new HoldfastError(ErrorCode.config, `${a} needs a value (see --help)`);
    }
  }
}

export function intFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  if (!/^-?\d+$/.test(value)) throw new HoldfastError(ErrorCode.config, `--${name}: "${value}" is not a whole number`);
  return Number(value);
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A size in bytes: a whole number, optionally followed by K, M or G (powers of 1024). */
export function sizeFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const m = /^(\d+)([kmg]?)$/i.exec(value.trim());
  if (!m) throw new HoldfastError(ErrorCode.config, `--${name}: "${value}" is not a size (bytes, or a whole number with K, M or G: 512K, 16M, 1G)`);
  return Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()];
}

/** `--proxy URL`: "none" or an empty value turns off a proxy set elsewhere; not given, `fallback` stays. */
export function proxyFlag(value: string | undefined, fallback: string | null): string | null {
  if (value === undefined) return fallback;
  if (value === '' || value.toLowerCase() === 'none') return null;
  const proxy = parseProxyUrl(value);
  if (typeof proxy === 'string') throw new HoldfastError(ErrorCode.config, `--proxy: ${proxy}`);
  return value;
}
