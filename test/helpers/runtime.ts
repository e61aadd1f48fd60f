// Which runtime runs this test file, and how to start Holdfast for it in a real process. The
// Bun leg starts the shipped artefact itself, the single executable (dist/holdfast-linux-x64 or
// -arm64, built by `npm test` before the legs run): what users run is what the integration
// tests start. The Deno and Node legs start their own entry, so each adapter is exercised.

import process from 'node:process';

export type RuntimeName = 'node' | 'deno' | 'bun';

export const runtimeName: RuntimeName =
  'Bun' in globalThis ? 'bun' : 'Deno' in globalThis ? 'deno' : 'node';

/** argv for `holdfast` under this runtime; Node runs the esbuild bundle (npm test builds it). */
export function holdfastArgv(): string[] {
  switch (runtimeName) {
    case 'bun':
      return [shippedExecutable()];
    case 'deno':
      return [process.execPath, 'run', '-A', '--unstable-net', 'src/main/deno.ts'];
    default:
      return [process.execPath, 'dist/holdfast.mjs'];
  }
}

/** The Bun executable that runs natively on this machine. */
export function shippedExecutable(): string {
  return `dist/holdfast-linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`;
}
