// Logging set-up: consola, readable by default or one JSON object per line, always to stderr
// (stdout stays clean for `holdfast query` output and for pipes).

// consola/core: our reporters are our own, so consola's (and the node:tty, node:util and
// node:readline they import, loaded at start on Bun) are not needed (#11).
import { createConsola, type ConsolaInstance, type LogObject } from 'consola/core';
import { ErrorCode, HoldfastError } from '../core/errors.ts';

export const LogLevel = { silent: -999, error: 0, warn: 1, info: 3, debug: 4, trace: 5 } as const;
export type LogLevelName = keyof typeof LogLevel;
/** Every level by name, for --help: "silent, error, warn, info, debug or trace". */
export const LOG_LEVEL_WORDS = (debug = 'debug') => {
  const names = Object.keys(LogLevel).map((n) => (n === 'debug' ? debug : n));
  return `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
};
export const LogFormat = ['pretty', 'json'] as const;
export type LogFormat = (typeof LogFormat)[number];

export interface LogSink {
  write(text: string): void;
}

function jsonReporter(sink: LogSink) {
  return {
    log(obj: LogObject) {
      const [first, ...rest] = obj.args;
      const fields = rest.length === 1 && rest[0] && typeof rest[0] === 'object' ? (rest[0] as Record<string, unknown>) : {};
      const msg = first instanceof Error ? first.message : String(first ?? '');
      sink.write(JSON.stringify({ time: obj.date.toISOString(), level: obj.type, msg, ...fields }) + '\n');
    },
  };
}

function prettyReporter(sink: LogSink) {
  return {
    log(obj: LogObject) {
      const [first, ...rest] = obj.args;
      const msg = first instanceof Error ? first.message : String(first ?? '');
      const fields =
        rest.length === 1 && rest[0] && typeof rest[0] === 'object'
          ? ' ' + Object.entries(rest[0] as Record<string, unknown>).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
          : '';
      sink.write(`${obj.date.toISOString().slice(11, 23)} ${obj.type.toUpperCase().padEnd(5)} ${msg}${fields}\n`);
    },
  };
}

export function createLogger(level: string, format: string, sink: LogSink): ConsolaInstance {
  if (!(level in LogLevel)) throw new HoldfastError(ErrorCode.config, `--log-level: "${level}" is not one of ${Object.keys(LogLevel).join(', ')}`);
  if (!LogFormat.includes(format as LogFormat)) throw new HoldfastError(ErrorCode.config, `--log-format: "${format}" is not one of ${LogFormat.join(', ')}`);
  return createConsola({
    level: LogLevel[level as LogLevelName],
    reporters: [format === 'json' ? jsonReporter(sink) : prettyReporter(sink)],
  });
}
