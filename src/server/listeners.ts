// Binding what a server listens on: a UDP and a TCP socket on the same port for each DNS
// address, the relay's HTTP listener, the HTTP endpoint. A bind that fails says why in words a
// router owner can act on (bind-error.ts).

import type { ServerConfig, ListenAddress } from '../config/config.ts';
import type { Counters } from '../core/counters.ts';
import { createHandle, type Handle } from '../core/handle.ts';
import type { Closable, HttpHandler, Runtime, UdpSocket } from '../core/ports.ts';
import type { StreamServer } from '../core/stream-server.ts';
import type { Next } from '../core/answer.ts';
import { DEFAULT_RELAY_LIMITS } from '../protocols/relay-v1.ts';
import { describeBindErrorWithHolder } from './bind-error.ts';
import { createRelayHandler } from './relay/handler.ts';
import { openUdpListener } from './udp-listener.ts';

/** With port 0, UDP gets a kernel-chosen port and TCP must take the same; it may be taken. */
const SAME_PORT_TRIES = 8;

export interface DnsListener {
  readonly udp: UdpSocket;
  readonly tcp: Closable;
  readonly port: number;
}

/** UDP and TCP on one address and one port (the kernel's choice for both, with port 0). */
export async function bindDns(runtime: Runtime, l: ListenAddress, handle: Handle, streams: StreamServer, counters: Counters, stopping: () => boolean): Promise<DnsListener> {
  for (let tries = 0; ; tries++) {
    const udp = await openUdpListener(runtime, l.address, l.port, handle, counters, stopping).catch(async (e) => {
      throw await describeBindErrorWithHolder(runtime.fs, l, 'udp', e);
    });
    try {
      const tcp = await runtime.listeners.listenTcp(l.address, udp.port, (conn, from) => streams.accept(conn, from));
      return { udp, tcp, port: udp.port };
    } catch (e) {
      udp.close();
      if (l.port !== 0 || tries + 1 >= SAME_PORT_TRIES) throw await describeBindErrorWithHolder(runtime.fs, l, 'tcp', e);
    }
  }
}

/** An HTTP listener; `what` names it in a bind error ("http" for the endpoint). */
export async function bindHttp(runtime: Runtime, l: ListenAddress, handler: HttpHandler, what?: string): Promise<Closable & { port: number }> {
  return runtime.listeners.listenHttp(l.address, l.port, handler).catch(async (e) => {
    throw await describeBindErrorWithHolder(runtime.fs, l, 'tcp', e, what);
  });
}

/** `holdfast relay`: relay protocol v1 over HTTP, each item answered through `chain`. */
export function bindRelay(runtime: Runtime, config: ServerConfig, chain: Next, counters: Counters): Promise<Closable & { port: number }> {
  // Relay clients are not DNS clients: the relay's token says who may ask, not the access lists.
  const resolve = createHandle(chain, counters);
  const fetch = createRelayHandler({
    limits: { ...DEFAULT_RELAY_LIMITS, max_items: config.relayServer.maxItems, max_request_bytes: config.relayServer.maxRequestBytes },
    token: config.relayServer.token,
    basePath: config.relayServer.basePath ?? undefined,
    // TCP's size limit: the relay carries whole answers, never truncated ones.
    resolve: async (q, from) => resolve(q, { address: from.address, port: from.port, transport: 'tcp' }),
  });
  return bindHttp(runtime, config.relayServer.listen, (request, from) => fetch(request, from));
}
