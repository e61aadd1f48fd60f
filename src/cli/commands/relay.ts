// `holdfast relay`: serve relay protocol v1 (docs/relay.md) over HTTP/1.1, answering each item
// through Holdfast's own pipeline (cache, coalescing, upstream pool) to the given upstreams.
// The same server assembly and lifecycle as `serve`; only what it listens for differs.

import { defineCommand } from 'citty';
import { argsDef } from '../../config/derive.ts';
import { loadConfig, type ConfigSources } from '../../config/load.ts';
import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { Runtime } from '../../core/ports.ts';
import { runLifecycle } from '../../server/lifecycle.ts';
import { startServer } from '../../server/start.ts';
import { rejectUnknownFlags } from '../args.ts';
import { LogLevel, createLogger } from '../logger.ts';
import { exposedHttpLogLine, networkChangedLogLine, proxyLogLine, upstreamLogLine } from '../log-lines.ts';
import { redactUrl } from '../../core/net/redact-url.ts';

export const relayArgs = argsDef('relay');

export function relayCommand(runtime: Runtime) {
  return defineCommand({
    meta: { name: 'relay', description: 'Serve relay protocol v1: batches of DNS questions over HTTP/1.1, answered through the upstreams' },
    args: relayArgs,
    async run({ rawArgs }) {
      rejectUnknownFlags(rawArgs, relayArgs);
      const sources: ConfigSources = { command: 'relay', rawArgs, env: (name) => runtime.env(name), fs: runtime.fs };
      const config = await loadConfig(sources);
      if (config.upstreams.length === 0) throw new HoldfastError(ErrorCode.config, '--upstream: the relay needs at least one (for example --upstream tls://1.1.1.1#cloudflare-dns.com)');
      const log = createLogger(config.log.level, config.log.format, runtime.stderr);
      const server = await startServer(config, runtime, {}, { mode: 'relay', onUpstreamEvent: (e) => upstreamLogLine(log, e), onNetworkChanged: (why) => networkChangedLogLine(log, why) });
      const l = server.listeners[0];
      const token = config.relayServer.token !== null;
      log.info(`relay listening on http ${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port}`, { transport: 'http', address: l.address, port: l.port, token });
      if (!token) exposedHttpLogLine(log, 'relay', l.address);
      log.info(`forwarding to ${config.upstreams.map(redactUrl).join(', ')}`, { upstreams: config.upstreams.map(redactUrl), runtime: runtime.name });
      proxyLogLine(log, server.pipeline.proxy);
      await runLifecycle(runtime, server, {
        load: () => loadConfig(sources),
        onEvent: (e) => {
          if (e.kind === 'stopping') log.info(`${e.signal}: stopping`);
          else if (e.kind === 'reload-refused') log.error(`SIGHUP: new configuration refused, the running one stays (${e.error})`, { error: e.error });
          else if (e.kind === 'reloaded') {
            log.level = LogLevel[e.config.log.level];
            log.info(`SIGHUP: configuration reloaded; forwarding to ${e.config.upstreams.map(redactUrl).join(', ')}`, { upstreams: e.config.upstreams.map(redactUrl) });
          }
        },
      });
    },
  });
}
