// One log line per event a router owner can act on: the server and its services report events,
// and only here do they become words. Never one line per packet (but at debug, per query).

import type { ConsolaInstance } from 'consola';
import type { ServerConfig } from '../config/config.ts';
import { LOCAL_KEYWORD, PRIVATE_KEYWORD } from '../config/settings.ts';
import type { HandledQuery } from '../core/handle.ts';
import type { ProxyUrl } from '../core/net/proxy-url.ts';
import { nameToText } from '../core/wire/names.ts';
import type { RunningServer } from '../server/start.ts';
import type { LocalSubnetsEvent } from '../services/local-subnets.ts';
import type { LocalFilesEvent } from '../services/local-files/service.ts';
import type { SnapshotEvent } from '../services/snapshot/service.ts';
import type { UpstreamEvent } from '../upstreams/transport.ts';
import type { RebindReport } from '../server/rebind-report.ts';
import { isLoopbackAddress } from '../server/http/host-check.ts';

export function snapshotLogLine(log: ConsolaInstance, e: SnapshotEvent): void {
  switch (e.kind) {
    case 'restored':
      log.info(`cache restored from ${e.file}: ${e.restored} entries`, {
        file: e.file,
        restored: e.restored,
        fresh: e.fresh,
        stale: e.stale,
        dropped: e.dropped,
        ...(e.rejected > 0 ? { rejected: e.rejected } : {}),
        ageSeconds: Math.round(e.ageMs / 1000),
        ...(e.clockBehind ? { clockBehind: true } : {}),
      });
      // A sound file never holds such entries: someone made it, or it was damaged before its checksum.
      if (e.rejected > 0) log.warn(`cache file ${e.file}: ${e.rejected} entries set aside, their message is not a sound answer to their question`, { file: e.file, rejected: e.rejected });
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

export function localSubnetsLogLine(log: ConsolaInstance, e: LocalSubnetsEvent): void {
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

/** Bad lines named with their file and line, a few at most: the count says how many in all. */
const SHOWN_BAD_LINES = 5;

/**
 * A local data file read, missing or unreadable. A lease file changes on every renewal, so a
 * change read cleanly is a debug line; bad lines are a warning each time the file is read.
 */
export function localFilesLogLine(log: ConsolaInstance, e: LocalFilesEvent): void {
  switch (e.kind) {
    case 'loaded': {
      const what = e.source === 'dhcp-leases' ? 'leases' : e.source === 'records' ? 'records' : 'addresses';
      const fields = { source: e.source, file: e.file, entries: e.entries, why: e.why };
      if (e.bad.length === 0) {
        (e.why === 'changed' ? log.debug : log.info)(`${e.source} ${e.file}: ${e.entries} ${what} read`, fields);
        return;
      }
      const shown = e.bad.slice(0, SHOWN_BAD_LINES).map((b) => `${e.file}:${b.line}: ${b.problem}`);
      const more = e.bad.length > SHOWN_BAD_LINES ? `; and ${e.bad.length - SHOWN_BAD_LINES} more` : '';
      log.warn(`${e.source} ${e.file}: ${e.entries} ${what} read, ${e.bad.length} line${e.bad.length === 1 ? '' : 's'} skipped (${shown.join('; ')}${more})`, {
        ...fields,
        badLines: e.bad.length,
        bad: e.bad.slice(0, SHOWN_BAD_LINES).map((b) => ({ line: b.line, problem: b.problem })),
      });
      return;
    }
    case 'missing':
      log.info(`${e.source} ${e.file} does not exist (yet); read as soon as it appears`, { source: e.source, file: e.file });
      return;
    case 'unreadable':
      log.warn(`${e.source} ${e.file} cannot be read (${e.error}); what was read from it before stays in force`, { source: e.source, file: e.file, error: e.error });
      return;
    case 'conflicts':
      log.warn(`local data: ${e.conflicts.length} record${e.conflicts.length === 1 ? '' : 's'} left out (${e.conflicts.slice(0, SHOWN_BAD_LINES).join('; ')})`, { conflicts: e.conflicts });
      return;
  }
}

/** Who is answered, in words: the allow list with its keywords spelt out. */
export function accessLogLine(log: ConsolaInstance, config: ServerConfig, local: { texts: readonly string[]; ignored: readonly string[] } | null): void {
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

export function queryLogLine(log: ConsolaInstance, h: HandledQuery): void {
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
export function proxyLogLine(log: ConsolaInstance, proxy: ProxyUrl | null): void {
  if (proxy) log.info(`tls://, https:// and relay upstreams through HTTP proxy ${proxy.label}`, { proxy: proxy.label, proxyAuth: proxy.username !== null });
}

/**
 * Looks up the names we resolve ourselves now (the upstreams', or with a proxy the proxy's), so
 * a bad name shows at start rather than at the first query.
 */
export function resolveNamedUpstreams(server: RunningServer, log: ConsolaInstance): void {
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

/** The network changed (#12): the upstreams are redialled. */
export function networkChangedLogLine(log: ConsolaInstance, why: string): void {
  log.info(`network changed (${why}): every upstream connection dropped, redialling`, { event: 'network-changed', why });
}

/** Once per change, never per query: a broken certificate is one line, not thousands. */
export function upstreamLogLine(log: ConsolaInstance, e: UpstreamEvent): void {
  const warn = e.kind === 'connect-failed' || e.kind === 'failing';
  if (warn) log.warn(e.message, { upstream: e.upstream, event: e.kind, code: e.code });
  else log.info(e.message, { upstream: e.upstream, event: e.kind });
}

/** Where the server listens, HTTP first: whoever waits for the DNS lines (a test, a supervisor) has it too. */
/**
 * One warning at start when an HTTP port without a token is reachable beyond this machine: the
 * query log (every client's address and names) or the relay is then anyone's on the LAN (#15).
 */
export function exposedHttpLogLine(log: ConsolaInstance, what: 'http' | 'relay', address: string): void {
  if (isLoopbackAddress(address)) return;
  const fix = what === 'http' ? 'set --http-token, or listen on loopback' : 'set --relay-token, or listen on loopback';
  log.warn(`${what} listens on ${address} without a token: anyone who can reach it can use it (${fix})`, { transport: 'http', address, token: false });
}

export function listeningLogLines(log: ConsolaInstance, server: RunningServer): void {
  const where = (address: string, port: number) => `${address.includes(':') ? `[${address}]` : address}:${port}`;
  if (server.http) {
    const h = server.http;
    log.info(`http listening on ${where(h.address, h.port)}`, { transport: 'http', address: h.address, port: h.port, token: server.config.http.token !== null });
    if (server.config.http.token === null) exposedHttpLogLine(log, 'http', h.address);
  }
  for (const l of server.listeners) {
    log.info(`listening on ${l.transport} ${where(l.address, l.port)}`, { transport: l.transport, address: l.address, port: l.port });
  }
}

/** Rebind protection stripped LAN addresses from a public name's answer (at most once a minute per name). */
export function rebindLogLine(log: ConsolaInstance, e: RebindReport): void {
  const since = e.answers > 1 ? ` (${e.answers} answers for it stripped since the last line)` : '';
  log.warn(`rebind protection: ${e.name} answered with LAN addresses by an upstream; removed ${e.removed}${since}; --rebind-allow ${e.name.replace(/\.$/, '')} lets it through`, {
    name: e.name,
    removed: e.removed,
    answers: e.answers,
  });
}
