// `holdfast serve`: flags to a configuration, then a running server until a signal stops it.

import { defineCommand } from 'citty';
import type { ConsolaInstance } from 'consola';
import { DEFAULT_CONFIG, validateConfig, type ListenAddress, type ServerConfig } from '../../core/config.ts';
import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import { DEFAULT_PROXY_PORT, type ProxyUrl } from '../../core/proxy-url.ts';
import type { HandledQuery } from '../../core/handle.ts';
import type { Runtime } from '../../core/ports.ts';
import { nameToText } from '../../core/wire/names.ts';
import { LOCAL_KEYWORD, NONE_KEYWORD, PRIVATE_KEYWORD } from '../../pipeline/access/admission.ts';
import { parseCidr } from '../../pipeline/access/cidr.ts';
import { splitHostPort } from '../../pipeline/upstream/spec.ts';
import type { SnapshotEvent } from '../../pipeline/cache/snapshot/service.ts';
import type { LocalSubnetsEvent } from '../../pipeline/access/local-subnets.ts';
import type { UpstreamEvent } from '../../pipeline/upstream/transport.ts';
import { nameserversFrom } from '../../server/resolv-conf.ts';
import { startServer } from '../../server/start.ts';
import { intFlag, proxyFlag, rejectUnknownFlags, repeated, sizeFlag } from '../args.ts';
import { checkConfig, readConfigFile, withEnv } from '../config-load.ts';
import { createLogger } from '../logger.ts';

const RESOLV_CONF = '/etc/resolv.conf';
/** Undocumented: another resolv.conf, so tests can start without a usable system one. */
const RESOLV_CONF_ENV = 'HOLDFAST_RESOLV_CONF';
/** After SIGTERM, how long in-flight work may take before we exit anyway. */
const STOP_GRACE_MS = 2_500;
/**
 * The same with a cache file to write. Under procd's default 5 s before SIGKILL. A write cut
 * short by the exit leaves the previous file whole (the write is atomic), so the bound is safe.
 */
const STOP_GRACE_WITH_SNAPSHOT_MS = 4_000;
/** The HTTP token from the environment, so it need not appear in `ps` output. */
const HTTP_TOKEN_ENV = 'HOLDFAST_HTTP_TOKEN';

export const serveArgs = {
  config: {
    type: 'string',
    description: 'Config file (docs/configuration.md); flags and HOLDFAST_* variables override it; SIGHUP reads it again',
    valueHint: 'FILE',
  },
  listen: { type: 'string', description: 'Address to serve DNS on, UDP and TCP; repeatable (default 127.0.0.1:5353 and [::1]:5353)', valueHint: 'ADDR:PORT' },
  upstream: {
    type: 'string',
    description:
      'Upstream server: udp://IP[:PORT], tcp://IP[:PORT], tls://HOST[:853][?pin=sha256/B64][#TLS-NAME] (DNS over TLS) https://HOST[:443]/PATH[?method=get][#TLS-NAME] (DNS over HTTPS) or relay+https://HOST[/BASE][?token=T] (batched, relay protocol v1); repeatable (default: /etc/resolv.conf)',
    valueHint: 'URL',
  },
  'ca-file': { type: 'string', description: 'PEM file of CAs to trust for tls:// and https:// upstreams instead of the system store', valueHint: 'PATH' },
  bootstrap: {
    type: 'string',
    description: 'Plain upstream (udp://IP or tcp://IP) that resolves tls:// and https:// upstreams given by name; repeatable (default: the plain --upstream ones)',
    valueHint: 'URL',
  },
  'relay-token': { type: 'string', description: 'Bearer token for relay+https:// upstreams whose URL has no ?token=', valueHint: 'TOKEN' },
  'relay-batch-ms': {
    type: 'string',
    description: `How long a relay question waits for others to share its request (default ${DEFAULT_CONFIG.relayUpstream.batchWindowMs})`,
    valueHint: 'MS',
  },
  'relay-info-check': {
    type: 'string',
    description: "At start, a relay whose /v1/info does not fit (wrong token, version or limits): 'require' refuses to start, 'warn' logs, 'off' skips the check (default require)",
    valueHint: 'MODE',
  },
  proxy: {
    type: 'string',
    description: `HTTP proxy that tls://, https:// and relay+http(s):// upstreams are reached through, with CONNECT: http://[USER:PASS@]HOST[:PORT] (port ${DEFAULT_PROXY_PORT} if left out, as in curl); "none" turns off one from the config file (default: none; HTTPS_PROXY is not read)`,
    valueHint: 'URL',
  },
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
  prefetch: {
    type: 'string',
    description: `Refreshes of popular names per minute, before they expire (default ${DEFAULT_CONFIG.prefetch.queriesPerMinute}; 0 turns prefetch off)`,
    valueHint: 'N',
  },
  'prefetch-bytes-per-hour': {
    type: 'string',
    description: 'Most bytes per hour prefetch may use, for metered links (default: no limit)',
    valueHint: 'BYTES',
  },
  'cache-file': {
    type: 'string',
    description: 'File the cache is saved to and restored from across restarts (default: none, memory only)',
    valueHint: 'PATH',
  },
  'snapshot-interval': {
    type: 'string',
    description: `Seconds between cache-file writes; each wears flash a little (default ${DEFAULT_CONFIG.cache.snapshotIntervalSeconds})`,
    valueHint: 'SECONDS',
  },
  'snapshot-min-changes': {
    type: 'string',
    description: `A periodic write is skipped until this many answers were cached since the last (default ${DEFAULT_CONFIG.cache.snapshotMinChanges})`,
    valueHint: 'N',
  },
  'tcp-idle-timeout': { type: 'string', description: `Milliseconds an idle client TCP connection is kept open (default ${DEFAULT_CONFIG.tcp.idleTimeoutMs})`, valueHint: 'MS' },
  'tcp-max-connections': { type: 'string', description: `Most client TCP connections open at once (default ${DEFAULT_CONFIG.tcp.maxConnections})`, valueHint: 'N' },
  allow: {
    type: 'string',
    description:
      'Answer clients in this prefix (ADDR/BITS or ADDR); repeatable; replaces the default, "private" (loopback, RFC 1918, link-local, fc00::/7) and "local" (the subnets of this machine\'s interfaces), which may be listed too',
    valueHint: 'CIDR',
  },
  'local-refresh': {
    type: 'string',
    description: `Seconds between readings of this machine's interfaces for --allow local, so a renumbered ISP prefix is picked up (default ${DEFAULT_CONFIG.access.localRefreshSeconds})`,
    valueHint: 'SECONDS',
  },
  deny: { type: 'string', description: 'Never answer clients in this prefix, even inside --allow; repeatable', valueHint: 'CIDR' },
  'refuse-action': { type: 'string', description: `What a client not allowed gets: refuse (REFUSED) or drop (no reply) (default ${DEFAULT_CONFIG.access.refuseAction})`, valueHint: 'ACTION' },
  'rate-limit': {
    type: 'string',
    description: `Queries per second per client (IPv4 address, IPv6 /64), per transport; 0 turns it off (default ${DEFAULT_CONFIG.rateLimit.perClientQps})`,
    valueHint: 'QPS',
  },
  'rate-limit-burst': { type: 'string', description: `Queries a client may send at once before --rate-limit applies (default ${DEFAULT_CONFIG.rateLimit.perClientBurst})`, valueHint: 'N' },
  'rate-limit-ipv4-prefix': { type: 'string', description: `Bits of an IPv4 address that make one client (default ${DEFAULT_CONFIG.rateLimit.ipv4PrefixBits})`, valueHint: 'BITS' },
  'rate-limit-ipv6-prefix': { type: 'string', description: `Bits of an IPv6 address that make one client (default ${DEFAULT_CONFIG.rateLimit.ipv6PrefixBits})`, valueHint: 'BITS' },
  'rate-limit-global': { type: 'string', description: 'Queries per second from all limited clients together; 0 turns it off (default 0)', valueHint: 'QPS' },
  'rate-limit-global-burst': { type: 'string', description: `Queries at once before --rate-limit-global applies (default ${DEFAULT_CONFIG.rateLimit.globalBurst})`, valueHint: 'N' },
  'rate-limit-action': {
    type: 'string',
    description: `What a client over a limit gets: truncate (TC=1 over UDP so it retries over TCP; REFUSED over TCP), refuse or drop (default ${DEFAULT_CONFIG.rateLimit.action})`,
    valueHint: 'ACTION',
  },
  'rate-limit-exempt': {
    type: 'string',
    description: 'Clients in this prefix are never limited; repeatable; replaces the default (127.0.0.0/8 and ::1); "none" exempts nobody',
    valueHint: 'CIDR',
  },
  'tcp-max-connections-per-client': {
    type: 'string',
    description: `Most TCP connections one client may hold open; 0 for no cap (default ${DEFAULT_CONFIG.rateLimit.tcpConnectionsPerClient})`,
    valueHint: 'N',
  },
  http: {
    type: 'string',
    description: 'Serve /metrics, /healthz and /readyz over HTTP on ADDR:PORT; PORT or :PORT alone listens on loopback only (default: off)',
    valueHint: '[ADDR:]PORT',
  },
  'http-token': {
    type: 'string',
    description: `Bearer token required for every HTTP path but /healthz (or set ${HTTP_TOKEN_ENV}; default: none)`,
    valueHint: 'TOKEN',
  },
  'query-log': {
    type: 'string',
    description: 'Keep the last N queries in memory for the status page and /api/queries (default 0: off)',
    valueHint: 'N',
  },
  'query-log-file': {
    type: 'string',
    description: 'Also write every query to PATH, one JSON object per line, rotated by size; works without --query-log (default: none, to spare flash)',
    valueHint: 'PATH',
  },
  'query-log-max-bytes': {
    type: 'string',
    description: `Size at which --query-log-file is rotated: bytes, or with K, M or G (default ${DEFAULT_CONFIG.queryLog.maxFileBytes / 1024 ** 2}M)`,
    valueHint: 'SIZE',
  },
  'query-log-files': {
    type: 'string',
    description: `Rotated query log files kept: PATH.1 to PATH.N (default ${DEFAULT_CONFIG.queryLog.rotatedFiles})`,
    valueHint: 'N',
  },
  'log-level': { type: 'string', description: 'error, warn, info, debug (logs each query) or trace', default: 'info' },
  'log-format': { type: 'string', description: 'pretty or json (one object per line)', default: 'pretty' },
} as const;

export function parseListen(text: string): ListenAddress {
  const hp = splitHostPort(text);
  if (!hp || hp.port === null) throw new HoldfastError(ErrorCode.config, `--listen: "${text}" is not ADDR:PORT (IPv6 as [ADDR]:PORT)`);
  return { address: hp.host, port: hp.port };
}

/** A repeatable flag given replaces the list; not given, the list from the file (or default) stays. */
function orBase<T>(given: readonly T[], base: readonly T[]): readonly T[] {
  return given.length ? given : base;
}

function pathFlag(name: string, value: string | undefined, fallback: string | null): string | null {
  if (value === undefined) return fallback;
  if (value === '') throw new HoldfastError(ErrorCode.config, `--${name}: needs a file path`);
  return value;
}

function cacheFileFlag(value: string | undefined, fallback: string | null): string | null {
  return pathFlag('cache-file', value, fallback);
}

/** A repeatable prefix flag's values, each checked, so a typo names the flag that has it. */
function prefixFlag(rawArgs: readonly string[], name: string, keywords: readonly string[]): string[] {
  const values = repeated(rawArgs, name);
  for (const v of values) {
    if (keywords.includes(v)) continue;
    const c = parseCidr(v);
    if (typeof c === 'string') {
      const words = keywords.length ? ` or ${keywords.map((k) => `"${k}"`).join(', ')}` : '';
      throw new HoldfastError(ErrorCode.config, `--${name}: "${v}" is not an address or ADDR/BITS${words} (${c})`);
    }
  }
  return values;
}

function choiceFlag<T extends string>(name: string, value: string | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined || value === '') return fallback;
  if (!(choices as readonly string[]).includes(value)) throw new HoldfastError(ErrorCode.config, `--${name}: "${value}" is not one of ${choices.join(', ')}`);
  return value as T;
}

/** `--http`: ADDR:PORT or [V6]:PORT as given; PORT or :PORT alone on loopback only. */
export function parseHttpListen(text: string): ListenAddress {
  const bad = () => new HoldfastError(ErrorCode.config, `--http: "${text}" is not [ADDR:]PORT (IPv6 as [ADDR]:PORT)`);
  const portOnly = /^:?(\d{1,5})$/.exec(text);
  if (portOnly) {
    const port = Number(portOnly[1]);
    if (port > 65535) throw bad();
    // A metrics page tells a lot about a network: reachable beyond this machine only when asked.
    return { address: '127.0.0.1', port };
  }
  const hp = splitHostPort(text);
  if (!hp || hp.port === null || hp.host === '') throw bad();
  return { address: hp.host, port: hp.port };
}

export function configFromFlags(
  rawArgs: readonly string[],
  args: Record<string, unknown>,
  env: (name: string) => string | undefined = () => undefined,
  /** What a flag not given leaves in force: the defaults, or a config file laid over them. */
  base: ServerConfig = DEFAULT_CONFIG,
): ServerConfig {
  const httpFlag = args.http as string | undefined;
  const tokenFlag = args['http-token'] as string | undefined;
  const listens = repeated(rawArgs, 'listen');
  const c: ServerConfig = {
    ...base,
    listen: listens.length ? listens.map(parseListen) : base.listen,
    upstreams: orBase(repeated(rawArgs, 'upstream'), base.upstreams),
    encryptedUpstream: {
      ...base.encryptedUpstream,
      caFile: (args['ca-file'] as string | undefined) ?? base.encryptedUpstream.caFile,
      bootstrap: orBase(repeated(rawArgs, 'bootstrap'), base.encryptedUpstream.bootstrap),
      proxy: proxyFlag(args.proxy as string | undefined, base.encryptedUpstream.proxy),
    },
    relayUpstream: {
      ...base.relayUpstream,
      token: (args['relay-token'] as string | undefined) || base.relayUpstream.token,
      batchWindowMs: intFlag('relay-batch-ms', args['relay-batch-ms'] as string | undefined, base.relayUpstream.batchWindowMs),
      infoCheck: ((args['relay-info-check'] as string | undefined) ?? base.relayUpstream.infoCheck) as ServerConfig['relayUpstream']['infoCheck'],
    },
    cache: {
      ...base.cache,
      maxEntries: intFlag('cache-size', args['cache-size'] as string | undefined, base.cache.maxEntries),
      maxBytes: sizeFlag('cache-memory', args['cache-memory'] as string | undefined, base.cache.maxBytes),
      staleIfErrorSeconds: intFlag('stale-if-error', args['stale-if-error'] as string | undefined, base.cache.staleIfErrorSeconds),
      file: cacheFileFlag(args['cache-file'] as string | undefined, base.cache.file),
      snapshotIntervalSeconds: intFlag('snapshot-interval', args['snapshot-interval'] as string | undefined, base.cache.snapshotIntervalSeconds),
      snapshotMinChanges: intFlag('snapshot-min-changes', args['snapshot-min-changes'] as string | undefined, base.cache.snapshotMinChanges),
    },
    upstream: { ...base.upstream, totalTimeoutMs: intFlag('timeout', args.timeout as string | undefined, base.upstream.totalTimeoutMs) },
    prefetch: {
      ...base.prefetch,
      queriesPerMinute: intFlag('prefetch', args.prefetch as string | undefined, base.prefetch.queriesPerMinute),
      bytesPerHour: intFlag('prefetch-bytes-per-hour', args['prefetch-bytes-per-hour'] as string | undefined, base.prefetch.bytesPerHour),
    },
    tcp: {
      ...base.tcp,
      idleTimeoutMs: intFlag('tcp-idle-timeout', args['tcp-idle-timeout'] as string | undefined, base.tcp.idleTimeoutMs),
      maxConnections: intFlag('tcp-max-connections', args['tcp-max-connections'] as string | undefined, base.tcp.maxConnections),
    },
    ...accessFromFlags(rawArgs, args, base),
    http: {
      listen: httpFlag === undefined || httpFlag === '' ? base.http.listen : parseHttpListen(httpFlag),
      // The flag wins over the environment; an empty variable counts as unset.
      token: tokenFlag || env(HTTP_TOKEN_ENV) || base.http.token,
    },
    queryLog: {
      ...base.queryLog,
      maxEntries: intFlag('query-log', args['query-log'] as string | undefined, base.queryLog.maxEntries),
      file: pathFlag('query-log-file', args['query-log-file'] as string | undefined, base.queryLog.file),
      maxFileBytes: sizeFlag('query-log-max-bytes', args['query-log-max-bytes'] as string | undefined, base.queryLog.maxFileBytes),
      rotatedFiles: intFlag('query-log-files', args['query-log-files'] as string | undefined, base.queryLog.rotatedFiles),
    },
  };
  return validateConfig(c);
}

/**
 * The whole configuration: flags over HOLDFAST_* variables (both in `merged`, from withEnv) over
 * the file over the defaults, checked. Read again on SIGHUP.
 */
export async function loadServeConfig(
  merged: { rawArgs: readonly string[]; args: Record<string, unknown> },
  fs: Pick<Runtime['fs'], 'readText'>,
  env: (name: string) => string | undefined,
): Promise<ServerConfig> {
  const file = merged.args.config as string | undefined;
  const base = file ? await readConfigFile(fs, file) : DEFAULT_CONFIG;
  return checkConfig(configFromFlags(merged.rawArgs, merged.args, env, base));
}

function snapshotLogLine(log: ConsolaInstance, e: SnapshotEvent): void {
  switch (e.kind) {
    case 'restored':
      log.info(`cache restored from ${e.file}: ${e.restored} entries`, {
        file: e.file,
        restored: e.restored,
        fresh: e.fresh,
        stale: e.stale,
        dropped: e.dropped,
        ageSeconds: Math.round(e.ageMs / 1000),
        ...(e.clockBehind ? { clockBehind: true } : {}),
      });
      if (e.clockBehind) log.warn(`the clock is behind the cache file's time: its ${e.restored} entries are served only as stale until refreshed`, { file: e.file });
      return;
    case 'set-aside':
      log.warn(`cache file ${e.file} set aside (${e.problem}); starting with an empty cache`, { file: e.file, problem: e.problem, movedTo: e.movedTo });
      return;
    case 'written':
      (e.reason === 'periodic' ? log.debug : log.info)(`cache snapshot written (${e.reason}): ${e.entries} entries, ${e.bytes} bytes`, {
        file: e.file,
        reason: e.reason,
        entries: e.entries,
        bytes: e.bytes,
      });
      return;
    case 'skipped':
      log.debug(`cache snapshot skipped (${e.reason}): ${e.changes} changes`, { file: e.file, reason: e.reason, changes: e.changes });
      return;
    case 'write-failed':
      log.warn(`cache snapshot not written (${e.reason}): ${e.error}`, { file: e.file, reason: e.reason, error: e.error });
      return;
  }
}

function accessFromFlags(rawArgs: readonly string[], args: Record<string, unknown>, base: ServerConfig): Pick<ServerConfig, 'access' | 'rateLimit'> {
  const a = base.access;
  const r = base.rateLimit;
  const flag = (name: string) => args[name] as string | undefined;
  const allow = prefixFlag(rawArgs, 'allow', [PRIVATE_KEYWORD, LOCAL_KEYWORD]);
  const exempt = prefixFlag(rawArgs, 'rate-limit-exempt', [PRIVATE_KEYWORD, NONE_KEYWORD]);
  return {
    access: {
      ...a,
      allow: allow.length ? allow : a.allow,
      deny: orBase(prefixFlag(rawArgs, 'deny', [PRIVATE_KEYWORD]), a.deny),
      refuseAction: choiceFlag('refuse-action', flag('refuse-action'), ['refuse', 'drop'], a.refuseAction),
      localRefreshSeconds: intFlag('local-refresh', flag('local-refresh'), a.localRefreshSeconds),
    },
    rateLimit: {
      ...r,
      perClientQps: intFlag('rate-limit', flag('rate-limit'), r.perClientQps),
      perClientBurst: intFlag('rate-limit-burst', flag('rate-limit-burst'), r.perClientBurst),
      ipv4PrefixBits: intFlag('rate-limit-ipv4-prefix', flag('rate-limit-ipv4-prefix'), r.ipv4PrefixBits),
      ipv6PrefixBits: intFlag('rate-limit-ipv6-prefix', flag('rate-limit-ipv6-prefix'), r.ipv6PrefixBits),
      globalQps: intFlag('rate-limit-global', flag('rate-limit-global'), r.globalQps),
      globalBurst: intFlag('rate-limit-global-burst', flag('rate-limit-global-burst'), r.globalBurst),
      action: choiceFlag('rate-limit-action', flag('rate-limit-action'), ['truncate', 'refuse', 'drop'], r.action),
      exempt: exempt.length ? exempt : r.exempt,
      tcpConnectionsPerClient: intFlag('tcp-max-connections-per-client', flag('tcp-max-connections-per-client'), r.tcpConnectionsPerClient),
    },
  };
}

/**
 * One line per change of an upstream's state, never per query: a broken certificate or a dead
 * upstream is one warning, not thousands, and one line when it works again. `event` lets a log
 * reader pick them out (failing, recovered, connect-failed, connected).
 */
export function upstreamLogLine(log: ConsolaInstance, e: UpstreamEvent): void {
  const warn = e.kind === 'connect-failed' || e.kind === 'failing';
  if (warn) log.warn(e.message, { upstream: e.upstream, event: e.kind, code: e.code });
  else log.info(e.message, { upstream: e.upstream, event: e.kind });
}

function localSubnetsLogLine(log: ConsolaInstance, e: LocalSubnetsEvent): void {
  if (e.kind === 'failed') {
    const kept = e.subnets.length ? `still answering the local subnets read before: ${e.subnets.join(', ')}` : 'no local subnet is answered until they can be read';
    log.warn(`cannot read this machine's interfaces (${e.error}); ${kept}`, {
      error: e.error,
      localSubnets: e.subnets,
    });
    return;
  }
  log.info(`local subnets now ${e.subnets.length ? e.subnets.join(', ') : 'none'}`, {
    localSubnets: e.subnets,
    added: e.added,
    removed: e.removed,
    ...(e.ignored.length ? { ignored: e.ignored } : {}),
  });
}

/** Who is answered, in words: the allow list with its keywords spelt out. */
function accessLogLine(log: ConsolaInstance, config: ServerConfig, local: { texts: readonly string[]; ignored: readonly string[] } | null): void {
  const { access } = config;
  const words = access.allow.map((a) => {
    if (a === PRIVATE_KEYWORD) return 'private (loopback, RFC 1918, link-local, fc00::/7)';
    if (a !== LOCAL_KEYWORD || !local) return a;
    const ignored = local.ignored.length ? `; ignoring ${local.ignored.join(', ')} as too broad` : '';
    return `local subnets (${local.texts.length ? local.texts.join(', ') : 'none yet'}; read every ${access.localRefreshSeconds} s${ignored})`;
  });
  log.info(
    `answering clients in ${words.join(', ')}${access.deny.length ? ` except ${access.deny.join(', ')}` : ''}; others get ${access.refuseAction === 'drop' ? 'no reply' : 'REFUSED'}`,
    {
      allow: access.allow,
      ...(local ? { localSubnets: local.texts, ...(local.ignored.length ? { ignored: local.ignored } : {}) } : {}),
      deny: access.deny,
      refuseAction: access.refuseAction,
    },
  );
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

/** Which proxy the TLS upstreams go through, so a log shows where connections really go. */
function proxyLogLine(log: ConsolaInstance, proxy: ProxyUrl | null): void {
  if (proxy) log.info(`tls://, https:// and relay upstreams through HTTP proxy ${proxy.label}`, { proxy: proxy.label, proxyAuth: proxy.username !== null });
}

/**
 * Looks up the names we resolve ourselves now (the upstreams', or with a proxy the proxy's), so
 * a bad name shows at start rather than at the first query.
 */
function resolveNamedUpstreams(server: Awaited<ReturnType<typeof startServer>>, log: ConsolaInstance): void {
  const bootstrap = server.pipeline.bootstrap;
  if (!bootstrap) return;
  const proxy = server.pipeline.proxy;
  if (proxy) {
    if (proxy.family !== 0) return;
    bootstrap.resolve(proxy.host).then(
      (address) => log.info(`proxy ${proxy.label}: ${proxy.host} is ${address}`, { proxy: proxy.label, address }),
      (e: Error) => log.warn(`proxy ${proxy.label}: cannot resolve ${proxy.host} yet (${e.message})`, { proxy: proxy.label }),
    );
    return;
  }
  for (const h of server.pipeline.upstreams.health) {
    if (h.spec.family !== 0) continue;
    bootstrap.resolve(h.spec.address).then(
      (address) => log.info(`${h.spec.label}: ${h.spec.address} is ${address}`, { upstream: h.spec.label, address }),
      (e: Error) => log.warn(`${h.spec.label}: cannot resolve ${h.spec.address} yet (${e.message})`, { upstream: h.spec.label }),
    );
  }
}

export function serveCommand(runtime: Runtime) {
  return defineCommand({
    meta: { name: 'serve', description: 'Serve DNS to the LAN, forwarding misses to upstreams' },
    args: serveArgs,
    async run({ rawArgs, args }) {
      rejectUnknownFlags(rawArgs, serveArgs);
      const merged = withEnv(rawArgs, args, serveArgs, (name) => runtime.env(name));
      const log = createLogger(String(merged.args['log-level']), String(merged.args['log-format']), runtime.stderr);
      const load = () => loadServeConfig(merged, runtime.fs, (name) => runtime.env(name));
      let config = await load();
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
      const server = await startServer(config, runtime, debug ? { onAnswered: (h) => queryLogLine(log, h) } : {}, {
        onSnapshot: (e) => snapshotLogLine(log, e),
        onUpstreamEvent: (e) => upstreamLogLine(log, e),
        onLocalSubnets: (e) => localSubnetsLogLine(log, e),
      });
      // Before the DNS listeners: whoever waits for those (a test, a supervisor) has this too.
      if (server.http) {
        const h = server.http;
        log.info(`http listening on ${h.address.includes(':') ? `[${h.address}]` : h.address}:${h.port}`, {
          transport: 'http',
          address: h.address,
          port: h.port,
          token: config.http.token !== null,
        });
      }
      for (const l of server.listeners) {
        log.info(`listening on ${l.transport} ${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port}`, {
          transport: l.transport,
          address: l.address,
          port: l.port,
        });
      }
      log.info(`forwarding to ${config.upstreams.join(', ')}`, { upstreams: config.upstreams, runtime: runtime.name });
      proxyLogLine(log, server.pipeline.proxy);
      accessLogLine(log, config, server.localSubnets?.current() ?? null);
      resolveNamedUpstreams(server, log);

      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info(`${signal}: stopping`);
        runtime.timers.setTimeout(() => runtime.exit(0), server.snapshot ? STOP_GRACE_WITH_SNAPSHOT_MS : STOP_GRACE_MS);
        server.stop().then(
          () => runtime.exit(0),
          () => runtime.exit(0),
        );
      };
      runtime.onSignal('SIGTERM', () => stop('SIGTERM'));
      runtime.onSignal('SIGINT', () => stop('SIGINT'));
      // SIGHUP: the file (and the environment, under the same flags) read again. A configuration
      // that fails any check is refused whole, with its reason, and the running one stays.
      let reloading = false;
      runtime.onSignal('SIGHUP', () => {
        if (reloading || stopping) return;
        reloading = true;
        load()
          .then(async (next) => {
            if (next.upstreams.length === 0) next = { ...next, upstreams: config.upstreams };
            const needRestart = await server.reload(next);
            config = next;
            log.info(`SIGHUP: configuration reloaded; forwarding to ${next.upstreams.join(', ')}`, { upstreams: next.upstreams });
            proxyLogLine(log, server.pipeline.proxy);
            if (needRestart.length) log.warn(`SIGHUP: ${needRestart.join(', ')} changed and take effect only after a restart`, { needRestart });
          })
          .catch((e: Error) => log.error(`SIGHUP: new configuration refused, the running one stays (${e.message})`, { error: e.message }))
          .finally(() => (reloading = false));
      });
      runtime.onSignal('SIGUSR1', () => {
        if (server.snapshot) void server.snapshot.write('request');
        else log.info('SIGUSR1: no --cache-file, so no snapshot to write');
      });
      // Never resolves: the server runs until a signal.
      await new Promise(() => {});
    },
  });
}
