// `holdfast relay`: serve relay protocol v1 (docs/relay.md) over HTTP/1.1, answering each item
// through Holdfast's own pipeline (cache, coalescing, upstream pool) to the given upstreams.

import { defineCommand } from 'citty';
import { DEFAULT_CONFIG, validateConfig, type ServerConfig } from '../../core/config.ts';
import { createCounters } from '../../core/counters.ts';
import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import { DEFAULT_PROXY_PORT } from '../../core/proxy-url.ts';
import { createHandle } from '../../core/handle.ts';
import type { Runtime } from '../../core/ports.ts';
import { createPipeline } from '../../pipeline/chain.ts';
import { DEFAULT_RELAY_LIMITS, type RelayLimits } from '../../pipeline/upstream/relay/codec.ts';
import { splitHostPort } from '../../pipeline/upstream/spec.ts';
import { createRelayHandler } from '../../server/relay/handler.ts';
import { readCaFile } from '../../server/start.ts';
import { intFlag, proxyFlag, rejectUnknownFlags, repeated } from '../args.ts';
import { createLogger } from '../logger.ts';
import { upstreamLogLine } from './serve.ts';

/** The token from the environment, so it need not appear in `ps` output. */
const RELAY_TOKEN_ENV = 'HOLDFAST_RELAY_TOKEN';

export const relayArgs = {
  listen: { type: 'string', description: 'Address to serve the relay on, HTTP/1.1 (default 127.0.0.1:8053)', valueHint: 'ADDR:PORT' },
  upstream: { type: 'string', description: 'Upstream the relay resolves through, as for serve; repeatable (required)', valueHint: 'URL' },
  'ca-file': { type: 'string', description: 'PEM file of CAs to trust for tls:// and https:// upstreams', valueHint: 'PATH' },
  bootstrap: { type: 'string', description: 'Plain upstream that resolves upstreams given by name; repeatable', valueHint: 'URL' },
  proxy: {
    type: 'string',
    description: `HTTP proxy for tls://, https:// and relay upstreams, as for serve: http://[USER:PASS@]HOST[:PORT] (port ${DEFAULT_PROXY_PORT} if left out)`,
    valueHint: 'URL',
  },
  'relay-token': { type: 'string', description: `Bearer token clients must send (or ${RELAY_TOKEN_ENV})`, valueHint: 'TOKEN' },
  'base-path': { type: 'string', description: 'Path before /v1/ (default none: /v1/dns and /v1/info)', valueHint: 'PATH' },
  'max-items': { type: 'string', description: `Items per request (default ${DEFAULT_RELAY_LIMITS.max_items})`, valueHint: 'N' },
  'max-request-bytes': { type: 'string', description: `Request body bytes after gunzip (default ${DEFAULT_RELAY_LIMITS.max_request_bytes})`, valueHint: 'N' },
  'cache-size': { type: 'string', description: `Most entries the cache holds (default ${DEFAULT_CONFIG.cache.maxEntries})`, valueHint: 'N' },
  'log-level': { type: 'string', description: 'error, warn, info or debug', default: 'info' },
  'log-format': { type: 'string', description: 'pretty or json (one object per line)', default: 'pretty' },
} as const;

export function relayCommand(runtime: Runtime) {
  return defineCommand({
    meta: { name: 'relay', description: 'Serve relay protocol v1: batches of DNS questions over HTTP/1.1, answered through the upstreams' },
    args: relayArgs,
    async run({ rawArgs, args }) {
      rejectUnknownFlags(rawArgs, relayArgs);
      const log = createLogger(String(args['log-level']), String(args['log-format']), runtime.stderr);
      const listenText = (args.listen as string | undefined) ?? '127.0.0.1:8053';
      const hp = splitHostPort(listenText);
      if (!hp || hp.port === null || hp.host === '') throw new HoldfastError(ErrorCode.config, `--listen: "${listenText}" is not ADDR:PORT`);
      const upstreams = repeated(rawArgs, 'upstream');
      if (upstreams.length === 0) throw new HoldfastError(ErrorCode.config, '--upstream: the relay needs at least one (for example --upstream tls://1.1.1.1#cloudflare-dns.com)');
      const config: ServerConfig = validateConfig({
        ...DEFAULT_CONFIG,
        upstreams,
        encryptedUpstream: {
          ...DEFAULT_CONFIG.encryptedUpstream,
          caFile: (args['ca-file'] as string | undefined) ?? null,
          bootstrap: repeated(rawArgs, 'bootstrap'),
          proxy: proxyFlag(args.proxy as string | undefined, null),
        },
        cache: { ...DEFAULT_CONFIG.cache, maxEntries: intFlag('cache-size', args['cache-size'] as string | undefined, DEFAULT_CONFIG.cache.maxEntries) },
      });
      const limits: RelayLimits = {
        ...DEFAULT_RELAY_LIMITS,
        max_items: intFlag('max-items', args['max-items'] as string | undefined, DEFAULT_RELAY_LIMITS.max_items),
        max_request_bytes: intFlag('max-request-bytes', args['max-request-bytes'] as string | undefined, DEFAULT_RELAY_LIMITS.max_request_bytes),
      };
      if (limits.max_items < 1) throw new HoldfastError(ErrorCode.config, '--max-items: must be at least 1');
      if (limits.max_request_bytes < 256) throw new HoldfastError(ErrorCode.config, '--max-request-bytes: must be at least 256');
      const token = (args['relay-token'] as string | undefined) ?? runtime.env(RELAY_TOKEN_ENV) ?? null;
      if (token !== null && !/^\S+$/.test(token)) throw new HoldfastError(ErrorCode.config, '--relay-token: must be non-empty with no spaces');
      // As `serve` does: a CA file that is missing or holds no certificate is refused, never
      // quietly replaced by the system store.
      const caFile = config.encryptedUpstream.caFile;
      const caPem = caFile === null ? undefined : await readCaFile(runtime, caFile);

      const counters = createCounters();
      const pipeline = createPipeline(config, runtime, counters, {
        caPem,
        onUpstreamEvent: (e) => upstreamLogLine(log, e),
      });
      // Relays may chain: a relay+https:// upstream is checked here as `serve` checks it.
      await pipeline.upstreams.preflight();
      const handle = createHandle(pipeline.chain, counters);
      const fetch = createRelayHandler({
        limits,
        token,
        basePath: args['base-path'] as string | undefined,
        // TCP's size limit: the relay carries whole answers, never truncated ones.
        resolve: async (q, from) => handle(q, { address: from.address, port: from.port, transport: 'tcp' }),
      });
      let server;
      try {
        server = await runtime.listeners.listenHttp(hp.host, hp.port, (request, from) => fetch(request, from));
      } catch (e) {
        throw new HoldfastError(ErrorCode.config, `--listen: ${listenText} cannot be bound (${(e as Error).message})`);
      }
      const where = `${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${server.port}`;
      log.info(`relay listening on http ${where}`, { transport: 'http', address: hp.host, port: server.port, token: token !== null });
      log.info(`forwarding to ${upstreams.join(', ')}`, { upstreams, runtime: runtime.name });
      if (pipeline.proxy) log.info(`tls://, https:// and relay upstreams through HTTP proxy ${pipeline.proxy.label}`, { proxy: pipeline.proxy.label });
      const stop = (signal: string) => {
        log.info(`${signal}: stopping`);
        runtime.timers.setTimeout(() => runtime.exit(0), 1_500);
        void Promise.resolve(server.close()).then(
          () => runtime.exit(0),
          () => runtime.exit(0),
        );
      };
      runtime.onSignal('SIGTERM', () => stop('SIGTERM'));
      runtime.onSignal('SIGINT', () => stop('SIGINT'));
      await new Promise(() => {});
    },
  });
}
