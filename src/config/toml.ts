// A strict subset of TOML for the config file: `[table]` and `[table.sub]` headers, `key = value`
// with "strings", 'literal strings', whole numbers, decimals, true/false and one-line arrays of
// those, and `#` comments. Enough for a person to edit by hand and for a router to read with no
// package; anything outside the subset is an error naming the line, never skipped.

import { ErrorCode, HoldfastError } from '../core/errors.ts';

export type TomlValue = string | number | boolean | readonly TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

function fail(source: string, line: number, problem: string): HoldfastError {
  return new HoldfastError(ErrorCode.config, `config: ${source} line ${line}: ${problem}`);
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** Parses `text`; `source` (a file name) goes into errors. */
export function parseToml(text: string, source = 'config'): TomlTable {
  const root: TomlTable = {};
  let table = root;
  let tablePath = '';
  const defined = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = stripComment(lines[i], source, n).trim();
    if (line === '') continue;
    if (line.startsWith('[')) {
      const m = /^\[\s*([A-Za-z0-9_.-]+)\s*\]$/.exec(line);
      if (!m || m[1].split('.').some((p) => !BARE_KEY.test(p))) throw fail(source, n, `"${line}" is not a table header such as [cache]`);
      if (defined.has(m[1])) throw fail(source, n, `table [${m[1]}] appears twice`);
      defined.add(m[1]);
      tablePath = m[1];
      table = root;
      for (const part of m[1].split('.')) {
        const next = table[part];
        if (next === undefined) table = table[part] = {};
        else if (isTable(next)) table = next;
        else throw fail(source, n, `[${m[1]}]: ${part} is already a value, not a table`);
      }
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw fail(source, n, `"${line}" is not key = value`);
    const key = line.slice(0, eq).trim();
    if (!BARE_KEY.test(key)) throw fail(source, n, `"${key}" is not a key (letters, digits, _ and - only)`);
    const full = tablePath ? `${tablePath}.${key}` : key;
    if (key in table) throw fail(source, n, `${full} is set twice`);
    const [value, rest] = parseValue(line.slice(eq + 1).trim(), source, n, full);
    if (rest.trim() !== '') throw fail(source, n, `${full}: unexpected "${rest.trim()}" after the value`);
    table[key] = value;
  }
  return root;
}

export function isTable(v: unknown): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The line without its comment; a # inside a string is kept. */
function stripComment(line: string, source: string, n: number): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#') return line.slice(0, i);
  }
  if (quote) throw fail(source, n, 'a string is not closed on its line');
  return line;
}

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', n: '\n', t: '\t', r: '\r' };

function parseValue(s: string, source: string, n: number, key: string): [TomlValue, string] {
  if (s === '') throw fail(source, n, `${key} has no value`);
  const c = s[0];
  if (c === '"') {
    let out = '';
    for (let i = 1; i < s.length; i++) {
      const ch = s[i];
      if (ch === '"') return [out, s.slice(i + 1)];
      if (ch === '\\') {
        const e = ESCAPES[s[i + 1]];
        if (e === undefined) throw fail(source, n, `${key}: unknown escape \\${s[i + 1] ?? ''} in a string`);
        out += e;
        i++;
      } else out += ch;
    }
    throw fail(source, n, `${key}: a string is not closed`);
  }
  if (c === "'") {
    const end = s.indexOf("'", 1);
    if (end < 0) throw fail(source, n, `${key}: a string is not closed`);
    return [s.slice(1, end), s.slice(end + 1)];
  }
  if (c === '[') {
    const items: TomlValue[] = [];
    let rest = s.slice(1).trim();
    while (true) {
      if (rest.startsWith(']')) return [items, rest.slice(1)];
      if (rest === '') throw fail(source, n, `${key}: an array must open and close on one line`);
      const [v, after] = parseValue(rest, source, n, `${key}[${items.length}]`);
      items.push(v);
      rest = after.trim();
      if (rest === '') throw fail(source, n, `${key}: an array must open and close on one line`);
      if (rest.startsWith(',')) rest = rest.slice(1).trim();
      else if (!rest.startsWith(']')) throw fail(source, n, `${key}: expected , or ] in the array`);
    }
  }
  const m = /^([^\s,\]]+)(.*)$/.exec(s)!;
  const word = m[1];
  if (word === 'true' || word === 'false') return [word === 'true', m[2]];
  // Underscores between digits, as TOML allows: 1_000_000.
  if (/^[+-]?\d+(_\d+)*$/.test(word)) return [Number(word.replace(/_/g, '')), m[2]];
  if (/^[+-]?\d+(_\d+)*(\.\d+(_\d+)*)?([eE][+-]?\d+)?$/.test(word)) return [Number(word.replace(/_/g, '')), m[2]];
  throw fail(source, n, `${key}: "${word}" is not a value (strings need quotes: "${word}")`);
}

function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r')}"`;
}

/** One value as the parser reads it back. */
export function formatTomlValue(v: TomlValue): string {
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(formatTomlValue).join(', ')}]`;
  throw new Error('formatTomlValue: tables are written as headers');
}
