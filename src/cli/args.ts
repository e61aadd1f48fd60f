// Flag handling citty leaves to us: flags it does not know or that lack their value (which it
// would silently ignore; a typo must stop the program instead). Repeated flags: config/derive.ts.

import type { ArgsDef } from 'citty';
import { ErrorCode, HoldfastError } from '../core/errors.ts';

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
