// The Bun runtime, as the core's ports. Bun implements Node's process, timers and fs, so
// everything but the sockets is the Node adapter's (fs.ts says so by re-exporting it); the
// sockets are Bun's own, which are faster than its node:dgram and node:net.

import type { Runtime } from '../../core/ports.ts';
import { createNodeRuntime } from '../node/runtime.ts';
import { bun } from './bun-api.ts';
import { appendBytes, crc32, fileSize, readBytes, readText, rename, stat, writeFileAtomic } from './fs.ts';
import { listenHttp } from './http.ts';
import { interfaceSubnets } from './interfaces.ts';
import { connectTcp, listenTcp } from './tcp.ts';
import { connectTls } from './tls.ts';
import { listenUdp } from './udp.ts';
import { connectUdp } from './udp-client.ts';

export function createBunRuntime(args: readonly string[]): Runtime {
  return {
    ...createNodeRuntime(args),
    name: 'bun',
    version: bun.version,
    net: { connectUdp, connectTcp, connectTls },
    listeners: { listenUdp, listenTcp, listenHttp },
    fs: { readText, readBytes, writeFileAtomic, rename, appendBytes, fileSize, stat, crc32 },
    interfaces: { subnets: interfaceSubnets },
  };
}
