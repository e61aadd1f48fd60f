// Binding what a server listens on: a UDP and a TCP socket on the same port for each DNS
// address, the relay's HTTP listener, the HTTP endpoint. A bind that fails says why in words a
// router owner can act on (bind-error.ts).

import type { ServerConfig, ListenAddress } from '../config/config.ts';
import type { Counters } from '../core/counters.ts';
import { createHandle, type Handle } from '../core/handle.ts';
import { ErrorCode, HoldfastError } from '../core/errors.ts';
import type { Closable, HttpHandler, HttpLimits, Runtime, UdpSocket } from '../core/ports.ts';
import { createBucketTable } from '../gate/token-bucket.ts';
import type { StreamServer } from '../core/stream-server.ts';
import type { Next } from '../core/answer.ts';
import { DEFAULT_RELAY_LIMITS } from '../protocols/relay-v1.ts';
import { describeBindErrorWithHolder } from './bind-error.ts';
import { createHostCheck, isLoopbackAddress, withHostCheck } from './http/host-check.ts';
import { createRelayHandler } from './relay/handler.ts';
import { openUdpListener } from './udp-listener.ts';

/** With port 0, UDP gets a kernel-chosen port and TCP must take the same; it may be taken. */
const SAME_PORT_TRIES = 8;
/** From a relay request's head to its answer: its items wait on upstreams, within their own timeouts. */
const HTTP_REQUEST_TIMEOUT_MS = 30_000;
/** Relay clients whose rate state is kept; the least recently seen goes first. */
const RELAY_TRACKED_CLIENTS = 4_096;

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

/** What every HTTP listener keeps to: a connection cap, and seconds, not minutes, for a request's head. */
function httpLimits(config: ServerConfig): HttpLimits {
  return {
    maxConnections: config.http.maxConnections,
    headersTimeoutMs: config.http.headersTimeoutSeconds * 1000,
    requestTimeoutMs: HTTP_REQUEST_TIMEOUT_MS,
  };
}

/** `handler` answering only requests whose Host names us, against DNS rebinding (http/host-check.ts). */
export function hostChecked(runtime: Runtime, config: ServerConfig, address: string, handler: HttpHandler): HttpHandler {
  return withHostCheck(
    handler,
    createHostCheck({
      listenAddress: address,
      allowedHosts: config.http.allowedHosts,
      interfaceAddresses: () => runtime.interfaces.subnets().map((n) => n.address),
    }),
  );
}

/** An HTTP listener; `what` names it in a bind error ("http" for the endpoint). */
export async function bindHttp(runtime: Runtime, config: ServerConfig, l: ListenAddress, handler: HttpHandler, what?: string): Promise<Closable & { port: number }> {
  return runtime.listeners.listenHttp(l.address, l.port, handler, httpLimits(config)).catch(async (e) => {
    throw await describeBindErrorWithHolder(runtime.fs, l, 'tcp', e, what);
  });
}

/**
 * `holdfast relay` without a token answers whoever reaches it: only on loopback (behind a
 * reverse proxy that authenticates), unless the owner says outright that it is meant (#15).
 */
export function checkRelayExposure(config: ServerConfig): void {
  const r = config.relayServer;
  if (r.token === null && r.open !== 'yes' && !isLoopbackAddress(r.listen.address)) {
    throw new HoldfastError(
      ErrorCode.config,
      `relay: will not listen on ${r.listen.address} without a token: anyone who can reach it could use it (set --relay-token, listen on loopback, or say --relay-open yes)`,
    );
  }
}

/** `holdfast relay`: relay protocol v1 over HTTP, each item answered through `chain`. */
export function bindRelay(runtime: Runtime, config: ServerConfig, chain: Next, counters: Counters): Promise<Closable & { port: number }> {
  checkRelayExposure(config);
  const r = config.relayServer;
  // Relay clients are not DNS clients: the relay's token says who may ask, not the access lists.
  const resolve = createHandle(chain, counters);
  // Per client address, in items: each is a lookup, perhaps an upstream query.
  const buckets = r.perClientQps > 0 ? createBucketTable({ perSecond: r.perClientQps, burst: r.perClientBurst }, RELAY_TRACKED_CLIENTS) : null;
  const fetch = createRelayHandler({
    admitItem: buckets ? (from) => buckets.take(from.address, runtime.clock.now()) : undefined,
    limits: { ...DEFAULT_RELAY_LIMITS, max_items: r.maxItems, max_request_bytes: r.maxRequestBytes },
    token: r.token,
    basePath: r.basePath ?? undefined,
    // TCP's size limit: the relay carries whole answers, never truncated ones.
    resolve: async (q, from) => resolve(q, { address: from.address, port: from.port, transport: 'tcp' }),
  });
  // The Host check only without a token: with one, a rebound page gets nothing but 401s, and a
  // relay behind a TLS terminator or reverse proxy sees that proxy's public name.
  const relayFetch: HttpHandler = (request, from) => fetch(request, from);
  return bindHttp(runtime, config, r.listen, r.token === null ? hostChecked(runtime, config, r.listen.address, relayFetch) : relayFetch);
}
