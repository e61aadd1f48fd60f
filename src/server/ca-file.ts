// The CA file for encrypted upstreams (--ca-file): read and checked at start and on SIGHUP, by
// `serve` and `relay` alike, so a missing or empty file refuses the start instead of silently
// trusting the system store.

import { ErrorCode, HoldfastError } from '../core/errors.ts';
import type { Runtime } from '../core/ports.ts';

/** The CA file's text, checked to hold at least one certificate; undefined when none is set. */
export async function readCaFile(runtime: Pick<Runtime, 'fs'>, path: string | null): Promise<string | undefined> {
  if (path === null) return undefined;
  let text: string | null;
  try {
    text = await runtime.fs.readText(path);
  } catch (e) {
    throw new HoldfastError(ErrorCode.config, `--ca-file: ${path} cannot be read (${(e as Error).message})`);
  }
  if (text === null) throw new HoldfastError(ErrorCode.config, `--ca-file: ${path} does not exist`);
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new HoldfastError(ErrorCode.config, `--ca-file: ${path} holds no PEM certificate`);
  return text;
}
