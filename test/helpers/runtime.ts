// Which runtime runs this test file, and how to start Holdfast's entry for the same runtime,
// so each leg of `npm test` exercises its own adapter in a real process.

import process from 'node:process';

export type RuntimeName = 'node' | 'deno' | 'bun';

export const runtimeName: RuntimeName =
  'Bun' in globalThis ? 'bun' : 'Deno' in globalThis ? 'deno' : 'node';

/** argv for `holdfast` under this runtime; Node runs the esbuild bundle (npm test builds it). */
export function holdfastArgv(): string[] {
  switch (runtimeName) {
    case 'bun':
      return [process.execPath, 'src/main/bun.ts'];
    case 'deno':
      return [process.execPath, 'run', '-A', '--unstable-net', 'src/main/deno.ts'];
    default:
      return [process.execPath, 'dist/holdfast.mjs'];
  }
}
