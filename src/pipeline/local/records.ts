// `NAME [TTL] [IN] TYPE DATA` lines in zone-file syntax (RFC 1035 §5.1), for --record and
// --records: A, AAAA, CNAME, TXT, MX, SRV and PTR. Names are taken as absolute whether or not
// they end in a dot (there is no $ORIGIN to be relative to).

import { nameKeyOf, parseIp } from './names.ts';
import { keyToWire } from './names.ts';

export const RecordType = { A: 1, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33 } as const;

export interface LocalRecord {
  readonly owner: string;
  readonly type: number;
  /** The data as it goes on the wire, names uncompressed. */
  readonly rdata: Uint8Array;
  /** From the line; null: --local-ttl. */
  readonly ttlSeconds: number | null;
  /** For a CNAME: its target's key. */
  readonly target?: string;
}

/** Splits on blanks, keeping "quoted strings" whole (with their quotes, for TXT). */
function tokens(line: string): string[] | string {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === ';') break; // RFC 1035 §5.1: a comment to the end of the line
    let start = i;
    if (c === '"') {
      i++;
      while (i < line.length && line[i] !== '"') i += line[i] === '\\' ? 2 : 1;
      if (i >= line.length) return 'a quoted string is not closed';
      i++;
    } else {
      while (i < line.length && line[i] !== ' ' && line[i] !== '\t') i++;
    }
    out.push(line.slice(start, i));
    start = i;
  }
  return out;
}

/** RFC 1035 §5.1: a character-string, quoted or not, with \X and \DDD escapes. */
function characterString(token: string): Uint8Array | string {
  const body = token.startsWith('"') ? token.slice(1, -1) : token;
  const bytes: number[] = [];
  const utf8 = new TextEncoder();
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      bytes.push(...utf8.encode(c));
      continue;
    }
    const digits = /^\d{3}/.exec(body.slice(i + 1));
    if (digits) {
      const v = Number(digits[0]);
      if (v > 255) return `\\${digits[0]} is not a byte`;
      bytes.push(v);
      i += 3;
    } else if (i + 1 < body.length) bytes.push(...utf8.encode(body[++i]));
  }
  if (bytes.length > 255) return 'a TXT string longer than 255 bytes';
  return Uint8Array.from([bytes.length, ...bytes]);
}

function u16(n: number): number[] {
  return [n >> 8, n & 0xff];
}

function whole(text: string, max: number): number | null {
  return /^\d+$/.test(text) && Number(text) <= max ? Number(text) : null;
}

/** The data of one record, or why it cannot be read. */
function rdataOf(type: string, data: string[]): { rdata: Uint8Array; target?: string } | string {
  const nameAt = (i: number): string | Uint8Array => {
    const key = data[i] === undefined ? null : nameKeyOf(data[i]);
    return key === null ? `"${data[i] ?? ''}" is not a host name` : keyToWire(key);
  };
  const count = (n: number, shape: string) => (data.length === n ? null : `${type} takes ${shape}`);
  switch (type) {
    case 'A':
    case 'AAAA': {
      const problem = count(1, 'one address');
      if (problem) return problem;
      const a = parseIp(data[0]);
      if (!a || a.family !== (type === 'A' ? 4 : 6)) return `"${data[0]}" is not an IPv${type === 'A' ? 4 : 6} address`;
      return { rdata: a.bytes };
    }
    case 'CNAME':
    case 'PTR': {
      const problem = count(1, 'one name');
      if (problem) return problem;
      const name = nameAt(0);
      if (typeof name === 'string') return name;
      return type === 'CNAME' ? { rdata: name, target: nameKeyOf(data[0])! } : { rdata: name };
    }
    case 'MX': {
      const problem = count(2, 'PREFERENCE EXCHANGE');
      if (problem) return problem;
      const pref = whole(data[0], 65535);
      if (pref === null) return `"${data[0]}" is not a preference (0 to 65535)`;
      const name = nameAt(1);
      if (typeof name === 'string') return name;
      return { rdata: Uint8Array.from([...u16(pref), ...name]) };
    }
    case 'SRV': {
      // RFC 2782: PRIORITY WEIGHT PORT TARGET.
      const problem = count(4, 'PRIORITY WEIGHT PORT TARGET');
      if (problem) return problem;
      const nums = data.slice(0, 3).map((d) => whole(d, 65535));
      const badNum = nums.findIndex((n) => n === null);
      if (badNum >= 0) return `"${data[badNum]}" is not a number from 0 to 65535`;
      const name = data[3] === '.' ? Uint8Array.of(0) : nameAt(3);
      if (typeof name === 'string') return name;
      return { rdata: Uint8Array.from([...nums.flatMap((n) => u16(n!)), ...name]) };
    }
    case 'TXT': {
      if (data.length === 0) return 'TXT takes one or more strings';
      const parts: number[] = [];
      for (const d of data) {
        const s = characterString(d);
        if (typeof s === 'string') return s;
        parts.push(...s);
      }
      return { rdata: Uint8Array.from(parts) };
    }
    default:
      return `type "${type}" is not one of A, AAAA, CNAME, TXT, MX, SRV, PTR`;
  }
}

/** One `NAME [TTL] [IN] TYPE DATA` line, or why it cannot be read. */
export function parseRecord(line: string): LocalRecord | string {
  const t = tokens(line.trim());
  if (typeof t === 'string') return t;
  if (t.length < 3) return 'needs NAME TYPE DATA';
  const owner = nameKeyOf(t[0]);
  if (owner === null) return `"${t[0]}" is not a host name`;
  let i = 1;
  let ttlSeconds: number | null = null;
  if (/^\d+$/.test(t[i])) {
    ttlSeconds = whole(t[i], 0x7fffffff);
    if (ttlSeconds === null) return `TTL "${t[i]}" is too large`;
    i++;
  }
  if (t[i]?.toUpperCase() === 'IN') i++;
  if (t[i] === undefined) return 'needs a TYPE';
  const type = t[i].toUpperCase();
  const data = rdataOf(type, t.slice(i + 1));
  if (typeof data === 'string') return data;
  return { owner, type: RecordType[type as keyof typeof RecordType], rdata: data.rdata, ttlSeconds, ...(data.target ? { target: data.target } : {}) };
}

/** A --records file: one record a line, `;` and `#` comments. */
export function parseRecordsFile(text: string): { records: Array<LocalRecord & { line: number }>; bad: Array<{ line: number; problem: string }> } {
  const records: Array<LocalRecord & { line: number }> = [];
  const bad: Array<{ line: number; problem: string }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const content = lines[i].trim();
    if (content === '' || content.startsWith('#') || content.startsWith(';')) continue;
    const r = parseRecord(content);
    if (typeof r === 'string') bad.push({ line: i + 1, problem: r });
    else records.push({ ...r, line: i + 1 });
  }
  return { records, bad };
}
