// `holdfast serve`: flags to a configuration, then a running server until a signal stops it.

import { defineCommand } from 'citty';
import type { ConsolaInstance } from 'consola';
import { DEFAULT_CONFIG, validateConfig, type ListenAddress, type ServerConfig } from '../../core/config.ts';
import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { HandledQuery } from '../../core/handle.ts';
import type { Runtime } from '../../core/ports.ts';
import { nameToText } from '../../core/wire/names.ts';
import { splitHostPort } from '../../pipeline/upstream/spec.ts';
import { nameserversFrom } from '../../server/resolv-conf.ts';
import { startServer } from '../../server/start.ts';
import { intFlag, rejectUnknownFlags, repeated, sizeFlag } from '../args.ts';
import { createLogger } from '../logger.ts';

const RESOLV_CONF = '/etc/resolv.conf';
/** Undocumented: another resolv.conf, so tests can start without a usable system one. */
const RESOLV_CONF_ENV = 'HOLDFAST_RESOLV_CONF';
/** After SIGTERM, how long in-flight work may take before we exit anyway. */
const STOP_GRACE_MS = 1_500;

export const serveArgs = {
  listen: { type: 'string', description: 'Address to serve DNS on, UDP and TCP; repeatable (default 127.0.0.1:5353 and [::1]:5353)', valueHint: 'ADDR:PORT' },
  upstream: { type: 'string', description: 'Upstream server, udp://IP[:PORT] or tcp://IP[:PORT]; repeatable (default: /etc/resolv.conf)', valueHint: 'URL' },
  'cache-size': { type: 'string', description: `Most entries the cache holds (default ${DEFAULT_CONFIG.cache.maxEntries})`, valueHint: 'N' },
  'cache-memory': {
    type: 'string',
    description: `Most memory the cache's entries may take: bytes, or with K, M or G (default ${DEFAULT_CONFIG.cache.maxBytes / 1024 ** 2}M)`,
    valueHint: 'SIZE',
  },
  'stale-if-error': {
    type: 'string',
    description: `Seconds past expiry an answer is still given when upstreams fail or are slow, with TTL 30 (RFC 8767; default ${DEFAULT_CONFIG.cache.staleIfErrorSeconds}, 0 turns it off)`,
    valueHint: 'SECONDS',
  },
  timeout: { type: 'string', description: `Milliseconds a query may wait for upstreams in all (default ${DEFAULT_CONFIG.upstream.totalTimeoutMs})`, valueHint: 'MS' },
  'tcp-idle-timeout': { type: 'string', description: `Milliseconds an idle client TCP connection is kept open (default ${DEFAULT_CONFIG.tcp.idleTimeoutMs})`, valueHint: 'MS' },
  'tcp-max-connections': { type: 'string', description: `Most client TCP connections open at once (default ${DEFAULT_CONFIG.tcp.maxConnections})`, valueHint: 'N' },
  'log-level': { type: 'string', description: 'error, warn, info, debug (logs each query) or trace', default: 'info' },
  'log-format': { type: 'string', description: 'pretty or json (one object per line)', default: 'pretty' },
} as const;

export function parseListen(text: string): ListenAddress {
  const hp = splitHostPort(text);
  if (!hp || hp.port === null) throw new HoldfastError(ErrorCode.config, `--listen: "${text}" is not ADDR:PORT (IPv6 as [ADDR]:PORT)`);
  return { address: hp.host, port: hp.port };
}

export function configFromFlags(rawArgs: readonly string[], args: Record<string, unknown>): ServerConfig {
  const listens = repeated(rawArgs, 'listen');
  const c: ServerConfig = {
    ...DEFAULT_CONFIG,
    listen: listens.length ? listens.map(parseListen) : DEFAULT_CONFIG.listen,
    upstreams: repeated(rawArgs, 'upstream'),
    cache: {
      ...DEFAULT_CONFIG.cache,
      maxEntries: intFlag('cache-size', args['cache-size'] as string | undefined, DEFAULT_CONFIG.cache.maxEntries),
      maxBytes: sizeFlag('cache-memory', args['cache-memory'] as string | undefined, DEFAULT_CONFIG.cache.maxBytes),
      staleIfErrorSeconds: intFlag('stale-if-error', args['stale-if-error'] as string | undefined, DEFAULT_CONFIG.cache.staleIfErrorSeconds),
    },
    upstream: { ...DEFAULT_CONFIG.upstream, totalTimeoutMs: intFlag('timeout', args.timeout as string | undefined, DEFAULT_CONFIG.upstream.totalTimeoutMs) },
    tcp: {
      ...DEFAULT_CONFIG.tcp,
      idleTimeoutMs: intFlag('tcp-idle-timeout', args['tcp-idle-timeout'] as string | undefined, DEFAULT_CONFIG.tcp.idleTimeoutMs),
      maxConnections: intFlag('tcp-max-connections', args['tcp-max-connections'] as string | undefined, DEFAULT_CONFIG.tcp.maxConnections),
    },
  };
  return validateConfig(c);
}

function queryLogLine(log: ConsolaInstance, h: HandledQuery): void {
  log.debug('query', {
    client: `${h.client.address}:${h.client.port}/${h.client.transport}`,
    name: nameToText(h.query.bytes, 12),
    type: h.query.qtype,
    source: h.answer?.source ?? 'failure',
    reason: h.answer?.reason ?? (h.error instanceof Error ? h.error.message : String(h.error)),
    rcode: h.reply[3] & 0x0f,
  });
}

export function serveCommand(runtime: Runtime) {
  return defineCommand({
    meta: { name: 'serve', description: 'Serve DNS to the LAN, forwarding misses to upstreams' },
    args: serveArgs,
    async run({ rawArgs, args }) {
      rejectUnknownFlags(rawArgs, serveArgs);
      const log = createLogger(String(args['log-level']), String(args['log-format']), runtime.stderr);
      let config = configFromFlags(rawArgs, args);
      if (config.upstreams.length === 0) {
        const resolvConf = runtime.env(RESOLV_CONF_ENV) || RESOLV_CONF;
        const text = await runtime.fs.readText(resolvConf);
        const found = text ? nameserversFrom(text, config.listen) : [];
        if (found.length === 0) {
          throw new HoldfastError(
            ErrorCode.config,
            `no upstream: pass --upstream udp://IP[:PORT] (for example --upstream udp://9.9.9.9), or add a nameserver line to ${resolvConf}`,
          );
        }
        log.info(`using upstreams from ${resolvConf}`, { upstreams: found });
        config = validateConfig({ ...config, upstreams: found });
      }
      const debug = log.level >= 4;
      const server = await startServer(config, runtime, debug ? { onAnswered: (h) => queryLogLine(log, h) } : {});
      for (const l of server.listeners) {
        log.info(`listening on ${l.transport} ${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port}`, {
          transport: l.transport,
          address: l.address,
          port: l.port,
        });
      }
      log.info(`forwarding to ${config.upstreams.join(', ')}`, { upstreams: config.upstreams, runtime: runtime.name });

      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info(`${signal}: stopping`);
        runtime.timers.setTimeout(() => runtime.exit(0), STOP_GRACE_MS);
        server.stop().then(
          () => runtime.exit(0),
          () => runtime.exit(0),
        );
      };
      runtime.onSignal('SIGTERM', () => stop('SIGTERM'));
      runtime.onSignal('SIGINT', () => stop('SIGINT'));
      // Never resolves: the server runs until a signal.
      await new Promise(() => {});
    },
  });
}
