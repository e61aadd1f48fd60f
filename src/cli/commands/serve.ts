// `holdfast serve`: the configuration from flags, variables and file, then a running server
// until a signal stops it.

import { defineCommand } from 'citty';
import { DEFAULT_CONFIG, validateConfig, type ServerConfig } from '../../config/config.ts';
import { argsDef, withEnvironment, withFlags } from '../../config/derive.ts';
import { loadConfig, type ConfigSources } from '../../config/load.ts';
import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { Runtime } from '../../core/ports.ts';
import { runLifecycle } from '../../server/lifecycle.ts';
import { SYSTEM_RESOLV_FILES, upstreamsFromSystem } from '../../server/resolv-conf.ts';
import { startServer } from '../../server/start.ts';
import { rejectUnknownFlags } from '../args.ts';
import { LogLevel, createLogger } from '../logger.ts';
import { redactUrl } from '../../core/net/redact-url.ts';
import {
  accessLogLine,
  listeningLogLines,
  localFilesLogLine,
  rebindLogLine,
  localSubnetsLogLine,
  proxyLogLine,
  queryLogLine,
  resolveNamedUpstreams,
  snapshotLogLine,
  upstreamLogLine,
  networkChangedLogLine,
} from '../log-lines.ts';

const RESOLV_CONF = '/etc/resolv.conf';
/**
 * Undocumented: other files to read instead of SYSTEM_RESOLV_FILES (colon-separated), so tests
 * can start without a usable system one.
 */
const RESOLV_CONF_ENV = 'HOLDFAST_RESOLV_CONF';

export const serveArgs = {
  config: {
    type: 'string',
    description: 'Config file (docs/configuration.md); flags and HOLDFAST_* variables override it; SIGHUP reads it again',
    valueHint: 'FILE',
  },
  ...argsDef('serve'),
} as const;

/**
 * The configuration for flags laid over `base` (the defaults, or a file) with the environment
 * beneath them. `args` are citty's parsed flags; any not in `rawArgs` count as given too.
 */
export function configFromFlags(
  rawArgs: readonly string[],
  args: Record<string, unknown>,
  env: (name: string) => string | undefined = () => undefined,
  base: ServerConfig = DEFAULT_CONFIG,
): ServerConfig {
  const raw = [...rawArgs];
  for (const [name, value] of Object.entries(args)) {
    if (typeof value === 'string' && !raw.some((a) => a === `--${name}` || a.startsWith(`--${name}=`))) raw.push(`--${name}=${value}`);
  }
  return validateConfig(withFlags(withEnvironment(base, 'serve', env), 'serve', raw));
}

/**
 * With no upstream given anywhere, the system's resolver files' nameservers, leaving out any on
 * this machine: its interfaces' addresses (when they can be read) and our own listen addresses.
 */
async function withSystemUpstreams(config: ServerConfig, runtime: Runtime): Promise<{ config: ServerConfig; from: string | null; skipped: string[] }> {
  if (config.upstreams.length > 0) return { config, from: null, skipped: [] };
  let local: string[] = config.listen.map((l) => l.address);
  try {
    local = [...local, ...runtime.interfaces.subnets().map((s) => s.address)];
  } catch {
    // Loopback and our own addresses are still left out; that covers the usual forwarders.
  }
  const files = runtime.env(RESOLV_CONF_ENV)?.split(':').filter((f) => f !== '') ?? SYSTEM_RESOLV_FILES;
  const found = await upstreamsFromSystem(runtime.fs, local, files.length ? files : SYSTEM_RESOLV_FILES);
  if (found.file === null) {
    const left = found.skipped.length ? ` (left out, as resolvers on this machine that may forward to Holdfast: ${found.skipped.join(', ')})` : '';
    throw new HoldfastError(
      ErrorCode.config,
      `no upstream: pass --upstream udp://IP[:PORT] (for example --upstream udp://9.9.9.9), or add a nameserver line to ${RESOLV_CONF}${left}`,
    );
  }
  return { config: validateConfig({ ...config, upstreams: found.upstreams }), from: found.file, skipped: found.skipped };
}

/** A --forward-zone value with any token or password in its URLs hidden. */
const redactZone = (z: string) => {
  const eq = z.indexOf('=');
  return `${z.slice(0, eq)}=${z.slice(eq + 1).split(',').map(redactUrl).join(',')}`;
};

export function serveCommand(runtime: Runtime) {
  return defineCommand({
    meta: { name: 'serve', description: 'Serve DNS to the LAN, forwarding misses to upstreams' },
    args: serveArgs,
    async run({ rawArgs }) {
      rejectUnknownFlags(rawArgs, serveArgs);
      const sources: ConfigSources = { command: 'serve', rawArgs, env: (name) => runtime.env(name), fs: runtime.fs };
      const loaded = await withSystemUpstreams(await loadConfig(sources), runtime);
      const config = loaded.config;
      const log = createLogger(config.log.level, config.log.format, runtime.stderr);
      if (loaded.from) log.info(`using upstreams from ${loaded.from}`, { upstreams: config.upstreams, ...(loaded.skipped.length ? { skipped: loaded.skipped } : {}) });
      const server = await startServer(config, runtime, log.level >= 4 ? { onAnswered: (h) => queryLogLine(log, h) } : {}, {
        onSnapshot: (e) => snapshotLogLine(log, e),
        onUpstreamEvent: (e) => upstreamLogLine(log, e),
        onLocalSubnets: (e) => localSubnetsLogLine(log, e),
        onLocalFiles: (e) => localFilesLogLine(log, e),
        onBlockList: (e) => log[e.level](e.message, e.fields),
        onRebindBlocked: (e) => rebindLogLine(log, e),
        onNetworkChanged: (why) => networkChangedLogLine(log, why),
      });
      listeningLogLines(log, server);
      log.info(`forwarding to ${config.upstreams.map(redactUrl).join(', ')}`, { upstreams: config.upstreams.map(redactUrl), runtime: runtime.name });
      if (config.forward.zones.length > 0) log.info(`forward zones: ${config.forward.zones.map(redactZone).join('; ')}`, { forwardZones: config.forward.zones.map(redactZone) });
      proxyLogLine(log, server.pipeline.proxy);
      accessLogLine(log, config, server.localSubnets?.current() ?? null);
      resolveNamedUpstreams(server, log);

      await runLifecycle(runtime, server, {
        load: () => loadConfig(sources),
        onEvent: (e) => {
          switch (e.kind) {
            case 'stopping':
              return log.info(`${e.signal}: stopping`);
            case 'reloaded':
              log.level = LogLevel[e.config.log.level];
              log.info(`SIGHUP: configuration reloaded; forwarding to ${e.config.upstreams.map(redactUrl).join(', ')}`, { upstreams: e.config.upstreams.map(redactUrl) });
              proxyLogLine(log, server.pipeline.proxy);
              if (e.needRestart.length) log.warn(`SIGHUP: ${e.needRestart.join(', ')} changed and take effect only after a restart`, { needRestart: e.needRestart });
              return;
            case 'reload-refused':
              return log.error(`SIGHUP: new configuration refused, the running one stays (${e.error})`, { error: e.error });
            case 'no-snapshot':
              return log.info('SIGUSR1: no --cache-file, so no snapshot to write');
          }
        },
      });
    },
  });
}
