// Everything the settings table implies: the defaults, citty's flag definitions, reading flags,
// the environment and the config file onto a configuration, range checks that name the key,
// the SIGHUP-reloadable set, `config check`'s output and docs/configuration.md's table.

import type { ArgsDef } from 'citty';
import { ErrorCode, HoldfastError } from '../core/errors.ts';
import { describeToml, type Read } from './kinds.ts';
import { SETTINGS, type Command, type Setting } from './settings.ts';

/** "listen" and "[1].port must be..." join without a space; "must be..." with one. */
function joiner(problem: string): string {
  return problem.startsWith('[') || problem.startsWith('.') ? '' : ' ';
}

export function configError(key: string, problem: string): HoldfastError {
  // A list item's problem starts with its index: "access.allow[1] must be...".
  return new HoldfastError(ErrorCode.config, `config: ${key}${joiner(problem)}${problem}`);
}

function flagError(flag: string, problem: string, from: string | null): HoldfastError {
  return new HoldfastError(ErrorCode.config, `--${flag}: ${problem}${from ? ` (from ${from})` : ''}`);
}

export function settingsFor(command: Command): Setting[] {
  return SETTINGS.filter((s) => (s.commands ?? ['serve']).includes(command));
}

export function envName(flag: string): string {
  return `HOLDFAST_${flag.toUpperCase().replace(/-/g, '_')}`;
}

type Tree = Record<string, unknown>;

export function getPath(tree: unknown, path: string): unknown {
  let node = tree as Tree;
  for (const part of path.split('.')) node = node?.[part] as Tree;
  return node;
}

/** A copy of `tree` with `path` set; the tables along the way are copied, the rest shared. */
export function setPath<T>(tree: T, path: string, value: unknown): T {
  const [head, ...rest] = path.split('.');
  const copy = { ...(tree as Tree) };
  copy[head] = rest.length ? setPath((copy[head] ?? {}) as Tree, rest.join('.'), value) : value;
  return copy as T;
}

/** The configuration with every setting at its default. */
export function defaults<T>(): T {
  let out: Tree = {};
  for (const s of SETTINGS) out = setPath(out, s.path, s.default);
  return out as T;
}

function defaultWords(s: Setting): string {
  return s.defaultText ?? (s.kind.describe ?? s.kind.toToml)(s.default as never);
}

/** citty's definitions of `command`'s flags, with each one's help line. */
export function argsDef(command: Command): ArgsDef {
  const out: ArgsDef = {};
  for (const s of settingsFor(command)) {
    if (!s.flag) continue;
    out[s.flag] = { type: 'string', description: `${s.doc} (default ${defaultWords(s)})`, valueHint: s.kind.hint };
  }
  return out;
}

function take<T>(read: Read<T>, fail: (problem: string) => Error): T {
  if (!read.ok) throw fail(read.problem);
  return read.value;
}

function checked<T>(s: Setting, value: T, fail: (problem: string) => Error): T {
  const problem = s.kind.check(value as never);
  if (problem !== null) throw fail(`${s.path}${joiner(problem)}${problem}`);
  return value;
}

/** Every value of a repeatable `--name VALUE` or `--name=VALUE` flag, in order (citty keeps the last). */
export function repeated(rawArgs: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i];
    if (a === `--${name}` && i + 1 < rawArgs.length) values.push(rawArgs[++i]);
    else if (a.startsWith(`--${name}=`)) values.push(a.slice(name.length + 3));
  }
  return values;
}

/** One flag's value as `command` reads it, checked; a HoldfastError names the flag. */
export function flagValue(command: Command, flag: string, text: string): unknown {
  const s = settingsFor(command).find((x) => x.flag === flag);
  if (!s) throw new HoldfastError(ErrorCode.config, `unknown flag "--${flag}"`);
  const fail = (p: string) => flagError(flag, p, null);
  return checked(s, take(s.kind.fromText(text), fail), fail);
}

/**
 * `base` with the `HOLDFAST_*` variables of `command`'s flags laid over it. An empty variable
 * counts as unset; a repeatable flag's variable holds its whole list, split on commas or spaces.
 */
export function withEnvironment<T>(base: T, command: Command, env: (name: string) => string | undefined): T {
  let out = base;
  for (const s of settingsFor(command)) {
    if (!s.flag) continue;
    const name = envName(s.flag);
    const text = env(name);
    if (text === undefined || text === '') continue;
    const fail = (p: string) => flagError(s.flag!, p, name);
    let value: unknown;
    if (s.kind.repeatable) {
      const items = s.kind.splitVariable ? s.kind.splitVariable(text) : text.split(/[\s,]+/).filter(Boolean);
      value = items.flatMap((t) => take(s.kind.fromText(t), fail) as unknown[]);
    } else value = take(s.kind.fromText(text), fail);
    out = setPath(out, s.path, checked(s, value, fail));
  }
  return out;
}

/**
 * `base` with the flags given laid over it. A repeatable flag given replaces the whole list; a
 * flag given empty counts as not given, but for kinds where empty means something (a proxy of
 * "none").
 */
export function withFlags<T>(base: T, command: Command, rawArgs: readonly string[]): T {
  let out = base;
  for (const s of settingsFor(command)) {
    if (!s.flag) continue;
    const given = repeated(rawArgs, s.flag);
    if (given.length === 0) continue;
    const fail = (p: string) => flagError(s.flag!, p, null);
    let value: unknown;
    if (s.kind.repeatable) value = given.flatMap((t) => take(s.kind.fromText(t), fail) as unknown[]);
    else {
      const text = given[given.length - 1];
      if (text === '' && !s.kind.emptyText) continue;
      value = take(text === '' ? s.kind.emptyText! : s.kind.fromText(text), fail);
    }
    out = setPath(out, s.path, checked(s, value, fail));
  }
  return out;
}

function isTable(v: unknown): v is Tree {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const here = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      prev = here;
    }
  }
  return row[b.length];
}

function unknownKey(table: string, key: string, known: readonly string[]): HoldfastError {
  let best = '';
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  const full = table ? `${table}.${key}` : key;
  const near = bestD <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean ${table ? `${table}.${best}` : best}?)` : ` (known: ${known.join(', ')})`;
  return configError(full, `is an unknown key${near}`);
}

/**
 * A parsed config file laid over `base`. Every key must be a setting's path (a table per
 * section: `[cache]` then `maxBytes = "8M"`); an unknown one is an error with the nearest known
 * key suggested, never skipped: a typo that silently kept a default is worse than no file.
 */
export function withDocument<T>(base: T, doc: Tree): T {
  const byPath = new Map(SETTINGS.map((s) => [s.path, s]));
  const tables = new Set(SETTINGS.filter((s) => s.path.includes('.')).map((s) => s.path.split('.')[0]));
  let out = base;
  const walk = (table: string, node: Tree) => {
    const known = [...new Set(SETTINGS.filter((s) => (table ? s.path.startsWith(`${table}.`) : true)).map((s) => (table ? s.path.slice(table.length + 1) : s.path).split('.')[0]))];
    // Own keys only, read as plain data: "__proto__" is a key like any other, and unknown.
    for (const key of Object.keys(node)) {
      const full = table ? `${table}.${key}` : key;
      const v = node[key];
      const s = byPath.get(full);
      if (s) {
        const fail = (p: string) => configError(full, p);
        out = setPath(out, full, checked(s, take(s.kind.fromToml(v), fail), (p) => new HoldfastError(ErrorCode.config, `config: ${p}`)));
      } else if (!table && tables.has(key)) {
        if (!isTable(v)) throw configError(full, `must be a table ([${full}]), not a value (got ${describeToml(v)})`);
        walk(full, v);
      } else throw unknownKey(table, key, known);
    }
  };
  walk('', doc);
  return out;
}

/** Every setting's value in range, or a HoldfastError naming the first that is not. */
export function checkSettings(config: unknown): void {
  for (const s of SETTINGS) checked(s, getPath(config, s.path), (p) => new HoldfastError(ErrorCode.config, `config: ${p}`));
}

/** The paths SIGHUP puts in force. */
export const RELOADABLE: ReadonlySet<string> = new Set(SETTINGS.filter((s) => s.reload).map((s) => s.path));

/** The settings whose values differ between two configurations. */
export function changedPaths(a: unknown, b: unknown): string[] {
  return SETTINGS.filter((s) => JSON.stringify(getPath(a, s.path)) !== JSON.stringify(getPath(b, s.path))).map((s) => s.path);
}

/** A configuration as a config file that reads back to the same configuration, every key included. */
export function formatConfig(config: unknown, command: Command = 'serve'): string {
  const lines: string[] = [];
  let table = '';
  for (const s of settingsFor(command)) {
    const dot = s.path.indexOf('.');
    const section = dot < 0 ? '' : s.path.slice(0, dot);
    const key = dot < 0 ? s.path : s.path.slice(dot + 1);
    if (section !== table) {
      lines.push('', `[${section}]`);
      table = section;
    }
    const v = getPath(config, s.path);
    lines.push(v === null ? `# ${key} is not set` : `${key} = ${s.kind.toToml(v as never)}`);
  }
  return lines.join('\n').replace(/^\n/, '') + '\n';
}

/** docs/configuration.md's reference: one row a setting. */
export function settingsMarkdown(): string {
  const rows = ['| Key | Flag | Default | Reload | What it does |', '| --- | --- | --- | --- | --- |'];
  const cell = (t: string) => t.replace(/\|/g, '\\|');
  for (const s of SETTINGS) {
    const flags = s.flag ? `\`--${s.flag}\`${(s.commands ?? ['serve']).includes('serve') ? '' : ' (relay)'}` : '';
    const def = s.defaultText ? `${s.defaultText}` : `\`${defaultWords(s)}\``;
    rows.push(`| \`${s.path}\` | ${flags} | ${cell(def)} | ${s.reload ? 'yes' : ''} | ${cell(s.doc)} |`);
  }
  return rows.join('\n') + '\n';
}
