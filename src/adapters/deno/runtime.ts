// The Deno runtime, as the core's ports.

import type { Runtime } from '../../core/ports.ts';
import { createId16 } from '../shared/entropy.ts';
import { appendBytes, fileSize, readBytes, readText, rename, stat, writeFileAtomic } from './fs.ts';
import { listenHttp } from './http.ts';
import { interfaceSubnets } from './interfaces.ts';
import { connectTcp, listenTcp } from './tcp.ts';
import { connectTls } from './tls.ts';
import { listenUdp } from './udp.ts';
import { connectUdp } from './udp-client.ts';

const encoder = new TextEncoder();

function writeAll(w: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let sent = 0;
  while (sent < bytes.length) sent += w.writeSync(bytes.subarray(sent));
}

export function createDenoRuntime(args: readonly string[]): Runtime {
  return {
    name: 'deno',
    version: Deno.version.deno,
    args,
    clock: { now: () => Date.now(), monotonicMs: () => performance.now() },
    timers: {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as number),
      setImmediate: (fn) => void setImmediate(fn),
    },
    entropy: { random: Math.random, id16: createId16() },
    net: { connectUdp, connectTcp, connectTls },
    listeners: { listenUdp, listenTcp, listenHttp },
    fs: { readText, readBytes, writeFileAtomic, rename, appendBytes, fileSize, stat },
    interfaces: { subnets: interfaceSubnets },
    env: (name) => Deno.env.get(name),
    onSignal: (signal, handler) => Deno.addSignalListener(signal, handler),
    exit: (code) => Deno.exit(code),
    stdout: { write: (text) => writeAll(Deno.stdout, text) },
    stderr: { write: (text) => writeAll(Deno.stderr, text) },
  };
}
