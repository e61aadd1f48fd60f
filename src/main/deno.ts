// Entry for Deno (and `deno compile`). Run with --unstable-net for Deno.listenDatagram.
import { createDenoRuntime } from '../adapters/deno/runtime.ts';
import { runCli } from '../cli/run.ts';

await runCli(createDenoRuntime(Deno.args));
