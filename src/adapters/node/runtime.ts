// The Node runtime, as the core's ports.

import type { Runtime } from '../../core/ports.ts';
import { appendBytes, fileSize, readBytes, readText, rename, stat, writeFileAtomic } from './fs.ts';
import { listenHttp } from './http.ts';
import { interfaceSubnets } from './interfaces.ts';
import { connectTcp, listenTcp } from './tcp.ts';
import { connectTls } from './tls.ts';
import { listenUdp } from './udp.ts';
import { connectUdp } from './udp-client.ts';
import { createId16 } from '../shared/entropy.ts';

export function createNodeRuntime(args: readonly string[]): Runtime {
  return {
    name: 'node',
    version: process.versions.node,
    args,
    clock: { now: () => Date.now(), monotonicMs: () => performance.now() },
    timers: {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      setImmediate: (fn) => void setImmediate(fn),
    },
    entropy: { random: Math.random, id16: createId16() },
    net: { connectUdp, connectTcp, connectTls },
    listeners: { listenUdp, listenTcp, listenHttp },
    fs: { readText, readBytes, writeFileAtomic, rename, appendBytes, fileSize, stat },
    interfaces: { subnets: interfaceSubnets },
    env: (name) => process.env[name],
    onSignal: (signal, handler) => {
      process.on(signal, handler);
    },
    exit: (code) => process.exit(code),
    stdout: { write: (text) => void process.stdout.write(text) },
    stderr: { write: (text) => void process.stderr.write(text) },
  };
}
