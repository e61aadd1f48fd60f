// The config file (a strict TOML subset, src/config/toml.ts) onto ServerConfig: every key is a
// ServerConfig key by the same name and path (`[cache] maxBytes`), checked for its type here
// and for its range by validateConfig. A key we do not know is an error with the nearest known
// key suggested, never skipped: a typo that silently kept a default is worse than no file.

import { configError, DEFAULT_CONFIG, type ListenAddress, type ServerConfig } from './config.ts';
import { formatTomlValue, isTable, parseToml, type TomlTable, type TomlValue } from './toml.ts';

/** Keys whose default is null (unset): a string when set, absent from the file when not. */
const NULLABLE = new Set(['cache.file', 'http.token', 'http.listen', 'encryptedUpstream.caFile', 'encryptedUpstream.proxy', 'relayUpstream.token', 'queryLog.file']);
/** Sizes may be written "8M" (K, M, G: powers of 1024) as well as a number of bytes. */
const SIZES = new Set(['cache.maxBytes', 'prefetch.bytesPerHour', 'queryLog.maxFileBytes']);
/** Addresses written "ADDR:PORT" ("[V6]:PORT"). */
const ADDRESSES = new Set(['listen', 'http.listen']);

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function parseSize(key: string, v: TomlValue): number {
  if (typeof v === 'number') return v;
  const m = typeof v === 'string' ? /^(\d+)\s*([kmg]?)$/i.exec(v.trim()) : null;
  if (!m) throw configError(key, `must be a size: bytes, or a whole number with K, M or G such as "8M" (got ${describe(v)})`);
  return Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()];
}

/** "ADDR:PORT" or "[V6]:PORT"; for http.listen, "PORT" alone means loopback. */
export function parseAddress(key: string, v: TomlValue): ListenAddress {
  if (typeof v !== 'string') throw configError(key, `must be a string such as "127.0.0.1:53" (got ${describe(v)})`);
  const portOnly = /^:?(\d{1,5})$/.exec(v);
  if (portOnly && key === 'http.listen') return { address: '127.0.0.1', port: Number(portOnly[1]) };
  const m = /^\[([0-9A-Fa-f:.%a-zA-Z]+)\]:(\d{1,5})$/.exec(v) ?? /^([^:\[\]\s]+):(\d{1,5})$/.exec(v);
  if (!m || m[1] === '') throw configError(key, `"${v}" is not ADDR:PORT (IPv6 as [ADDR]:PORT)`);
  return { address: m[1], port: Number(m[2]) };
}

function describe(v: TomlValue): string {
  if (Array.isArray(v)) return 'a list';
  if (isTable(v)) return 'a table';
  return typeof v === 'string' ? `"${v}"` : String(v);
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v !== null && typeof v === 'object') return 'a table';
  return typeof v === 'number' ? 'a number' : typeof v === 'boolean' ? 'true or false' : 'a string';
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

function unknownKey(path: string, key: string, known: readonly string[]): Error {
  let best = '';
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  const full = path ? `${path}.${key}` : key;
  const near = bestD <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean ${path ? `${path}.${best}` : best}?)` : ` (known: ${known.join(', ')})`;
  return configError(full, `is an unknown key${near}`);
}

/** One value against the default's shape at `path`. */
function convert(path: string, v: TomlValue, def: unknown): unknown {
  if (ADDRESSES.has(path)) {
    if (path === 'listen') {
      if (!Array.isArray(v)) throw configError(path, `must be a list of "ADDR:PORT" strings (got ${describe(v)})`);
      return v.map((x, i) => parseAddress(`${path}[${i}]`, x));
    }
    return parseAddress(path, v);
  }
  if (SIZES.has(path)) return parseSize(path, v);
  if (NULLABLE.has(path)) {
    if (typeof v !== 'string') throw configError(path, `must be a string (got ${describe(v)}); leave it out for none`);
    return v;
  }
  if (Array.isArray(def)) {
    if (!Array.isArray(v)) throw configError(path, `must be a list of strings such as ["a", "b"] (got ${describe(v)})`);
    v.forEach((x, i) => {
      if (typeof x !== 'string') throw configError(`${path}[${i}]`, `must be a string (got ${describe(x)})`);
    });
    return v;
  }
  if (typeof v !== typeof def) throw configError(path, `must be ${typeName(def)} (got ${describe(v)})`);
  return v;
}

/**
 * A parsed document laid over `base` (DEFAULT_CONFIG, usually). Types are checked here, ranges
 * are not: pass the result to validateConfig.
 */
export function configFromDocument(doc: TomlTable, base: ServerConfig = DEFAULT_CONFIG): ServerConfig {
  // `base` may hold nulls where the defaults do; the shape to check against is DEFAULT_CONFIG's.
  return mergeShaped('', doc, base as unknown as Record<string, unknown>, DEFAULT_CONFIG as unknown as Record<string, unknown>) as unknown as ServerConfig;
}

function mergeShaped(path: string, table: TomlTable, base: Record<string, unknown>, shape: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  const known = Object.keys(shape);
  for (const [key, v] of Object.entries(table)) {
    const full = path ? `${path}.${key}` : key;
    if (!Object.prototype.hasOwnProperty.call(shape, key)) throw unknownKey(path, key, known);
    const s = shape[key];
    if (s !== null && isTable(s as TomlValue) && !ADDRESSES.has(full) && !NULLABLE.has(full)) {
      if (!isTable(v)) throw configError(full, `must be a table ([${full}]), not a value (got ${describe(v)})`);
      out[key] = mergeShaped(full, v, base[key] as Record<string, unknown>, s as Record<string, unknown>);
    } else out[key] = convert(full, v, s);
  }
  return out;
}

/** The text of a config file, parsed and laid over `base`; not yet range-checked. */
export function configFromText(text: string, source: string, base: ServerConfig = DEFAULT_CONFIG): ServerConfig {
  return configFromDocument(parseToml(text, source), base);
}

function formatAddress(l: ListenAddress): string {
  return l.address.includes(':') ? `[${l.address}]:${l.port}` : `${l.address}:${l.port}`;
}

/** A configuration as a file that configFromText reads back to the same configuration. */
export function formatConfig(c: ServerConfig): string {
  const lines: string[] = [];
  const value = (path: string, v: unknown): string | null => {
    if (v === null) return null;
    if (path === 'listen') return formatTomlValue((v as ListenAddress[]).map(formatAddress));
    if (path === 'http.listen') return formatTomlValue(formatAddress(v as ListenAddress));
    return formatTomlValue(v as TomlValue);
  };
  const entries = Object.entries(c as unknown as Record<string, unknown>);
  for (const [key, v] of entries) {
    if (isTable(DEFAULT_CONFIG[key as keyof ServerConfig] as TomlValue)) continue;
    lines.push(`${key} = ${value(key, v)}`);
  }
  for (const [table, t] of entries) {
    if (!isTable(DEFAULT_CONFIG[table as keyof ServerConfig] as TomlValue)) continue;
    lines.push('', `[${table}]`);
    for (const [key, v] of Object.entries(t as Record<string, unknown>)) {
      const text = value(`${table}.${key}`, v);
      lines.push(text === null ? `# ${key} is not set` : `${key} = ${text}`);
    }
  }
  return lines.join('\n') + '\n';
}
