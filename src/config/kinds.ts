// What a setting's value may be, and how it is read from a flag or variable (text) and from the
// config file (a TOML value). A kind returns the problem as a phrase that follows the key's name
// ("must be a whole number from 1 to 20 (got 99)"); the caller names the key.

import { splitHostPort } from '../core/net/host-port.ts';
import { parseCidr } from '../core/net/cidr.ts';
import { parseProxyUrl } from '../core/net/proxy-url.ts';

/** A value read, or what is wrong with it. */
export type Read<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

export interface Kind<T> {
  /** What the value looks like in help text: N, SIZE, URL... */
  readonly hint: string;
  /** May the flag be given more than once (and its variable hold a list)? */
  readonly repeatable: boolean;
  /** From a flag or an environment variable. */
  fromText(text: string): Read<T>;
  /** From the config file; TOML has types, so a number may arrive where text is allowed. */
  fromToml(value: unknown): Read<T>;
  /** Into the config file's syntax (config check, the docs' defaults). */
  toToml(value: T): string;
  /** The value's range, whatever it came from (defaults and code too); null when in range. */
  check(value: T): string | null;
  /** What a flag given empty means; absent: the flag counts as not given. */
  readonly emptyText?: Read<T>;
  /** The value for people (help and docs), where it reads better than toToml's. */
  describe?(value: T): string;
  /** How a repeatable flag's variable splits into items; absent: on commas and blanks. */
  splitVariable?(text: string): string[];
}

const ok = <T>(value: T): Read<T> => ({ ok: true, value });
const bad = <T>(problem: string): Read<T> => ({ ok: false, problem });

export function describeToml(v: unknown): string {
  if (v instanceof Date) return `the date ${v.toISOString()}`;
  if (Array.isArray(v)) return 'a list';
  if (v !== null && typeof v === 'object') return 'a table';
  return typeof v === 'string' ? `"${v}"` : String(v);
}

export function tomlString(s: string): string {
  return JSON.stringify(s);
}

function wholeFromText(text: string): Read<number> {
  return /^-?\d+$/.test(text.trim()) ? ok(Number(text.trim())) : bad(`"${text}" is not a whole number`);
}

export function int(min: number, max: number, hint = 'N'): Kind<number> {
  return {
    hint,
    repeatable: false,
    fromText: wholeFromText,
    fromToml: (v) => (typeof v === 'number' ? ok(v) : bad(`must be a number (got ${describeToml(v)})`)),
    toToml: (v) => String(v),
    check: (v) => (Number.isInteger(v) && v >= min && v <= max ? null : `must be a whole number from ${min} to ${max} (got ${v})`),
  };
}

/** A decimal number; `exclusive` keeps both ends out of range. */
export function decimal(min: number, max: number, exclusive = false): Kind<number> {
  const inRange = (v: number) => Number.isFinite(v) && (exclusive ? v > min && v < max : v >= min && v <= max);
  return {
    hint: 'NUMBER',
    repeatable: false,
    fromText: (t) => (/^-?\d+(\.\d+)?$/.test(t.trim()) ? ok(Number(t)) : bad(`"${t}" is not a number`)),
    fromToml: (v) => (typeof v === 'number' ? ok(v) : bad(`must be a number (got ${describeToml(v)})`)),
    toToml: (v) => String(v),
    check: (v) => (inRange(v) ? null : `must be a number ${exclusive ? 'between' : 'from'} ${min} ${exclusive ? 'and' : 'to'} ${max} (got ${v})`),
  };
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Bytes, or a whole number with K, M or G (powers of 1024): "512K", "8M". */
export function parseSizeText(text: string): number | null {
  const m = /^(\d+)([kmg]?)$/i.exec(text.trim());
  return m ? Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()] : null;
}

export function formatSize(bytes: number): string {
  for (const [unit, n] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return String(bytes);
}

export function size(min: number, max: number): Kind<number> {
  const problem = (got: string) => `must be a size: bytes, or a whole number with K, M or G such as "8M" (got ${got})`;
  return {
    hint: 'SIZE',
    repeatable: false,
    fromText: (t) => {
      const n = parseSizeText(t);
      return n === null ? bad(`"${t}" is not a size (bytes, or a whole number with K, M or G: 512K, 16M, 1G)`) : ok(n);
    },
    fromToml: (v) => {
      if (typeof v === 'number') return ok(v);
      const n = typeof v === 'string' ? parseSizeText(v) : null;
      return n === null ? bad(problem(describeToml(v))) : ok(n);
    },
    toToml: (v) => String(v),
    describe: (v) => (formatSize(v) === String(v) ? String(v) : `${formatSize(v)} (${v})`),
    check: (v) => (Number.isInteger(v) && v >= min && v <= max ? null : `must be a size from ${formatSize(min)} to ${formatSize(max)} (got ${v})`),
  };
}

export function choice<const T extends string>(options: readonly T[], hint = options.join('|')): Kind<T> {
  const check = (v: string) => (options.includes(v as T) ? null : `must be one of ${options.join(', ')} (got ${v})`);
  return {
    hint,
    repeatable: false,
    fromText: (t) => (options.includes(t as T) ? ok(t as T) : bad(`"${t}" is not one of ${options.join(', ')}`)),
    fromToml: (v) => (typeof v === 'string' ? (check(v) === null ? ok(v as T) : bad(check(v)!)) : bad(`must be a string (got ${describeToml(v)})`)),
    toToml: (v) => tomlString(v),
    check,
  };
}

export interface TextOptions {
  readonly hint: string;
  /** The value's shape, checked wherever it came from; returns the problem or null. */
  readonly check?: (v: string) => string | null;
}

/** A string that may be unset (null); a flag given as "" is refused rather than unsetting it. */
export function optionalText(o: TextOptions): Kind<string | null> {
  const shape = (v: string) => (v.trim() === '' ? 'must not be empty' : (o.check?.(v) ?? null));
  return {
    hint: o.hint,
    repeatable: false,
    // The shape is checked with the setting's name (derive.ts), wherever the value came from.
    fromText: (t) => ok(t),
    fromToml: (v) => (typeof v === 'string' ? ok(v) : bad(`must be a string (got ${describeToml(v)}); leave it out for none`)),
    toToml: (v) => (v === null ? '' : tomlString(v)),
    check: (v) => (v === null ? null : shape(v)),
  };
}

/** A file path: no NUL, not empty. */
export const path: Kind<string | null> = {
  ...optionalText({ hint: 'PATH', check: (v) => (v.includes('\0') ? 'must be a file path' : null) }),
  emptyText: bad('needs a file path'),
};

/** Visible ASCII only: it travels in an Authorization header, where a stray space or newline breaks it. */
export const token = optionalText({
  hint: 'TOKEN',
  check: (v) => (/^[\x21-\x7e]{1,1024}$/.test(v) ? null : 'must be 1 to 1024 visible ASCII characters, without spaces'),
});

/** An HTTP proxy URL; "none" from a flag or variable turns off one set in the file. */
const proxyProblem = (v: string) => {
  const p = parseProxyUrl(v);
  return typeof p === 'string' ? p : null;
};

export const proxy: Kind<string | null> = {
  ...optionalText({ hint: 'URL', check: proxyProblem }),
  check: (v) => (v === null ? null : proxyProblem(v)),
  emptyText: ok(null),
  fromText: (t) => {
    if (t === '' || t.toLowerCase() === 'none') return ok(null);
    const p = parseProxyUrl(t);
    return typeof p === 'string' ? bad(p) : ok(t);
  },
};

/** One string per list item, each checked by `item` (null when fine). */
export function list(hint: string, item: (v: string) => string | null = () => null): Kind<readonly string[]> {
  const check = (v: readonly string[]) => {
    if (!Array.isArray(v)) return 'must be a list';
    for (let i = 0; i < v.length; i++) {
      const p = typeof v[i] === 'string' && v[i] !== '' ? item(v[i]) : 'must be a non-empty string';
      if (p !== null) return `[${i}] ${p}`;
    }
    return null;
  };
  return {
    hint,
    repeatable: true,
    // A variable holds the whole list, split on commas or spaces; a flag is one item.
    fromText: (t) => {
      const items = t.split(/[\s,]+/).filter(Boolean);
      for (const x of items) {
        const p = item(x);
        if (p !== null) return bad(p);
      }
      return ok(items);
    },
    fromToml: (v) => {
      if (!Array.isArray(v)) return bad(`must be a list of strings such as ["a", "b"] (got ${describeToml(v)})`);
      const i = v.findIndex((x) => typeof x !== 'string');
      return i < 0 ? ok(v as string[]) : bad(`[${i}] must be a string (got ${describeToml(v[i])})`);
    },
    toToml: (v) => `[${v.map(tomlString).join(', ')}]`,
    check,
  };
}

/**
 * Lines with blanks in them (`--record "nas.lan A 192.168.1.2"`): a flag is one item, whole; a
 * variable holds several separated by ";" or newlines, and a file a list of strings. `item`
 * checks each one's shape (null when fine).
 */
export function lines(hint: string, item: (v: string) => string | null = () => null): Kind<readonly string[]> {
  const base = list(hint, item);
  return {
    ...base,
    fromText: (t) => {
      const p = t.trim() === '' ? 'must not be empty' : item(t.trim());
      return p === null ? ok([t.trim()]) : bad(p);
    },
    splitVariable: (t) => t.split(/[;\n]/).map((x) => x.trim()).filter(Boolean),
  };
}

/** A DNS name, or "none" (kept as the word: the setting is off). */
export function domainOrNone(hint: string): Kind<string> {
  const check = (v: string) =>
    v === 'none' || /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/i.test(v.replace(/\.$/, ''))
      ? null
      : `must be a domain name such as lan, or none (got ${v})`;
  return {
    hint,
    repeatable: false,
    fromText: (t) => ok(t.trim().toLowerCase()),
    fromToml: (v) => (typeof v === 'string' ? ok(v.toLowerCase()) : bad(`must be a string (got ${describeToml(v)})`)),
    toToml: (v) => tomlString(v),
    check,
  };
}

/** Prefixes ("10.0.0.0/8", a bare address) or one of `keywords`. */
export function prefixes(keywords: readonly string[]): Kind<readonly string[]> {
  return list('CIDR', (v) => {
    if (keywords.includes(v)) return null;
    const c = parseCidr(v);
    return typeof c === 'string' ? `"${v}" is not an address or ADDR/BITS${keywords.length ? ` or ${keywords.join(', ')}` : ''} (${c})` : null;
  });
}

export interface ListenAddress {
  readonly address: string;
  readonly port: number;
}

export function formatAddress(l: ListenAddress): string {
  return l.address.includes(':') ? `[${l.address}]:${l.port}` : `${l.address}:${l.port}`;
}

/** "ADDR:PORT" or "[V6]:PORT"; with `portAlone`, "PORT" or ":PORT" means that port on loopback. */
export function parseListenText(text: string, portAlone: boolean): ListenAddress | string {
  const shape = `"${text}" is not ${portAlone ? '[ADDR:]PORT' : 'ADDR:PORT'} (IPv6 as [ADDR]:PORT)`;
  const only = /^:?(\d{1,5})$/.exec(text);
  // A metrics page tells a lot about a network: reachable beyond this machine only when asked.
  if (only && portAlone) return Number(only[1]) > 65535 ? shape : { address: '127.0.0.1', port: Number(only[1]) };
  const hp = splitHostPort(text);
  if (!hp || hp.port === null || hp.host === '') return shape;
  return { address: hp.host, port: hp.port };
}

const portCheck = (l: ListenAddress) => (Number.isInteger(l.port) && l.port >= 0 && l.port <= 65535 ? null : `.port must be from 0 to 65535 (got ${l.port})`);

/** The DNS listeners: repeatable, at least one. */
export const listenList: Kind<readonly ListenAddress[]> = {
  hint: 'ADDR:PORT',
  repeatable: true,
  fromText: (t) => {
    const out: ListenAddress[] = [];
    for (const part of t.split(/[\s,]+/).filter(Boolean)) {
      const l = parseListenText(part, false);
      if (typeof l === 'string') return bad(l);
      out.push(l);
    }
    return ok(out);
  },
  fromToml: (v) => {
    if (!Array.isArray(v)) return bad(`must be a list of "ADDR:PORT" strings (got ${describeToml(v)})`);
    const out: ListenAddress[] = [];
    for (let i = 0; i < v.length; i++) {
      const l = typeof v[i] === 'string' ? parseListenText(v[i], false) : `must be a string such as "127.0.0.1:53" (got ${describeToml(v[i])})`;
      if (typeof l === 'string') return bad(`[${i}] ${l}`);
      out.push(l);
    }
    return ok(out);
  },
  toToml: (v) => `[${v.map((l) => tomlString(formatAddress(l))).join(', ')}]`,
  describe: (v) => v.map(formatAddress).join(', ').replace(/, ([^,]*)$/, ' and $1'),
  check: (v) => {
    if (v.length === 0) return 'needs at least one address';
    for (let i = 0; i < v.length; i++) {
      const p = portCheck(v[i]);
      if (p) return `[${i}]${p}`;
    }
    return null;
  },
};

/** One address that may be unset; "PORT" alone means loopback (the HTTP endpoint). */
export const optionalListen: Kind<ListenAddress | null> = {
  hint: '[ADDR:]PORT',
  repeatable: false,
  fromText: (t) => {
    const l = parseListenText(t, true);
    return typeof l === 'string' ? bad(l) : ok(l);
  },
  fromToml: (v) => {
    if (typeof v !== 'string') return bad(`must be a string such as "127.0.0.1:8080" (got ${describeToml(v)})`);
    const l = parseListenText(v, true);
    return typeof l === 'string' ? bad(l) : ok(l);
  },
  toToml: (v) => (v === null ? '' : tomlString(formatAddress(v))),
  check: (v) => (v === null ? null : v.address === '' ? 'needs an address' : portCheck(v)),
};
