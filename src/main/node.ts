// Entry for Node (and the esbuild bundle dist/holdfast.mjs).
import { createNodeRuntime } from '../adapters/node/runtime.ts';
import { runCli } from '../cli/run.ts';

await runCli(createNodeRuntime(process.argv.slice(2)));
