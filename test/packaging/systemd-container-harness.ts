// What the systemd, container and workflow tests share: readers for a unit file and a
// Containerfile (just enough of each format for the files in packaging/), the shipped Bun
// executable for this machine, and a process started with an exact argv, as systemd or a
// container engine would start it: no flag added, no log format changed.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readSync, closeSync } from 'node:fs';
import process from 'node:process';
import { udpExchange } from '../helpers/dns-client.ts';
import { decode, query } from '../helpers/packets.ts';
import { runtimeName } from '../helpers/runtime.ts';

/**
 * Why the tests that start the shipped executable do not run in this leg, or null when they
 * do. They test the executable, not the runtime running the test file, so one leg is enough.
 */
export function executableSkipReason(): string | null {
  return runtimeName === 'bun' ? null : 'runs in the bun leg only (it tests the shipped executable, not the test runtime)';
}

/** dist/holdfast-linux-x64 or -arm64, whichever runs natively here; fails the test if not built. */
export function nativeBinary(): string {
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  const path = `dist/holdfast-linux-${arch}`;
  assert.ok(existsSync(path), `${path} is missing: build it with \`node build/build.mjs linux-${arch}\``);
  return path;
}

/** ELF e_machine values (the ELF gABI, "e_machine"). */
export const ElfMachine = { x86_64: 0x3e, aarch64: 0xb7 } as const;

/** The e_machine field of an ELF file: bytes 18-19, little-endian in both of our targets. */
export function elfMachine(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const head = new Uint8Array(20);
    readSync(fd, head, 0, 20, 0);
    assert.deepEqual([...head.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], `${path} is not an ELF file`);
    return head[18] | (head[19] << 8);
  } finally {
    closeSync(fd);
  }
}

/** The shared libraries an ELF file names (DT_NEEDED), read with readelf; null without binutils. */
export function neededLibraries(path: string): string[] | null {
  const r = spawnSync('readelf', ['-d', '--wide', path], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) return null;
  assert.equal(r.status, 0, `readelf -d ${path} failed: ${r.stderr}`);
  return [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
}

/**
 * A command line split into words the way systemd.service(5) "Command lines" does for what we
 * write: whitespace separates, double or single quotes group, a backslash escapes one character.
 */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (quote) {
      if (c === quote) quote = null;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  assert.equal(quote, null, `unterminated quote in: ${line}`);
  if (inWord) words.push(word);
  return words;
}

/** A unit file: section name to its [key, value] pairs in order (a key may repeat). */
export type Unit = Map<string, Array<[string, string]>>;

/** systemd.syntax(7): [Section] headers, Key=Value, # and ; comments, a trailing \ continues. */
export function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Array<[string, string]> | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i].trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i].trim()}`;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = [];
      unit.set(header[1], section);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(section && eq > 0, `unit line ${i + 1} is neither a [Section] nor Key=Value: ${line}`);
    section.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return unit;
}

/** Every value of `key` in `section`, in order. */
export function unitValues(unit: Unit, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

/** The one value of `key`; fails the test if it is missing or given twice. */
export function unitValue(unit: Unit, section: string, key: string): string {
  const values = unitValues(unit, section, key);
  assert.equal(values.length, 1, `[${section}] ${key}= appears ${values.length} times, expected once`);
  return values[0];
}

/** One Containerfile instruction: its keyword upper-cased, the rest of the line, and its stage. */
export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** The stage it belongs to: the index of the FROM above it, -1 before the first FROM. */
  readonly stage: number;
}

/**
 * The Dockerfile reference's syntax, the part we use: # comments on their own line, a
 * trailing \ continues the instruction, one instruction per logical line.
 */
export function parseContainerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full === '') continue;
    const m = /^(\S+)\s*(.*)$/.exec(full)!;
    const keyword = m[1].toUpperCase();
    if (keyword === 'FROM') stage++;
    out.push({ keyword, args: m[2], stage });
  }
  assert.equal(pending, '', 'the Containerfile ends inside a continued line');
  return out;
}

/** An instruction's exec form (a JSON array of strings), as CMD, ENTRYPOINT and HEALTHCHECK CMD take it. */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  assert.ok(Array.isArray(parsed) && parsed.every((a) => typeof a === 'string'), `not the exec form (a JSON array of strings): ${args}`);
  return parsed as string[];
}

/** A process started with an exact argv, its output kept for failure messages. */
export interface Started {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly output: () => string;
  readonly exited: () => boolean;
  /** Sends `signal` and waits for the exit (SIGKILL after `timeoutMs`). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: string | null }>;
}

export function startExact(argv: readonly string[]): Started {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  return {
    child,
    pid: child.pid!,
    output: () => output,
    exited: () => done,
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (!done) process.kill(child.pid!, signal);
      const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const r = await exited;
      clearTimeout(kill);
      return r;
    },
  };
}

/**
 * Waits until `p` answers a UDP query on 127.0.0.1:`port` (any reply will do), or exits, or
 * `limitMs` passes; fails the test with its output otherwise. Polled, never timed.
 */
export async function untilAnswering(p: Started, port: number, limitMs = 20_000): Promise<void> {
  for (let waited = 0; waited < limitMs && !p.exited(); waited += 250) {
    const reply = await udpExchange(port, query('ready.invalid', 'A'), 250).catch(() => null);
    if (reply) return;
  }
  assert.fail(`${p.exited() ? 'exited' : 'did not answer'} before answering on port ${port}:\n${p.output()}`);
}

/** The A records in a reply, decoded. */
export function addressesIn(reply: Uint8Array): string[] {
  return decode(reply)
    .answers.filter((a) => a.type === 'A')
    .map((a) => String(a.data));
}
