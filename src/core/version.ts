// Kept equal to package.json's version by a test (test/core/version.test.ts).
export const VERSION = '0.1.0';

// Replaced by the build (build/build.mjs for Bun, build/bundle.mjs for Node) with the time the
// executable was made; absent when run from source.
declare const __HOLDFAST_BUILD_TIME__: string | undefined;

/**
 * When this code can have been built at the earliest: the build's own time, or from source a
 * date before any of it ran. A clock that reads earlier is wrong (#12: a router without a
 * battery-backed clock boots at its firmware's date).
 */
export const BUILD_TIME_MS: number =
  typeof __HOLDFAST_BUILD_TIME__ === 'string' && Number.isFinite(Date.parse(__HOLDFAST_BUILD_TIME__)) ? Date.parse(__HOLDFAST_BUILD_TIME__) : Date.UTC(2026, 0, 1);
