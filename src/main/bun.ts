// Entry for Bun (and the `bun build --compile` executables).
import { createBunRuntime } from '../adapters/bun/runtime.ts';
import { runCli } from '../cli/run.ts';

await runCli(createBunRuntime(process.argv.slice(2)));
