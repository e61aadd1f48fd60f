// A running server's life as a process: SIGTERM and SIGINT stop it (answers in flight drain,
// the snapshot is written, then exit 0 within a bound a supervisor accepts), SIGHUP reloads the
// configuration, SIGUSR1 writes the snapshot now, SIGUSR2 says the network changed (redial). Used by `serve` and `relay` alike; what
// happens is reported as events, and the command turns them into log lines.

import type { ServerConfig } from '../config/config.ts';
import type { Runtime } from '../core/ports.ts';
import type { RunningServer } from './start.ts';

/** After SIGTERM, how long in-flight work may take before we exit anyway. */
const STOP_GRACE_MS = 2_500;
/**
 * The same with a cache file to write. Under procd's default 5 s before SIGKILL. A write cut
 * short by the exit leaves the previous file whole (the write is atomic), so the bound is safe.
 */
const STOP_GRACE_WITH_SNAPSHOT_MS = 4_000;

export type LifecycleEvent =
  | { readonly kind: 'stopping'; readonly signal: string }
  | { readonly kind: 'reloaded'; readonly config: ServerConfig; readonly needRestart: readonly string[] }
  | { readonly kind: 'reload-refused'; readonly error: string }
  | { readonly kind: 'no-snapshot' };

export interface LifecycleOptions {
  /** The configuration read again (file, environment, flags), or a rejection naming the problem. */
  readonly load: () => Promise<ServerConfig>;
  readonly onEvent: (event: LifecycleEvent) => void;
}

/** Wires the signals; resolves never, as the process lives until a signal ends it. */
export function runLifecycle(runtime: Runtime, server: RunningServer, options: LifecycleOptions): Promise<never> {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    options.onEvent({ kind: 'stopping', signal });
    runtime.timers.setTimeout(() => runtime.exit(0), server.snapshot ? STOP_GRACE_WITH_SNAPSHOT_MS : STOP_GRACE_MS);
    server.stop().then(
      () => runtime.exit(0),
      () => runtime.exit(0),
    );
  };
  runtime.onSignal('SIGTERM', () => stop('SIGTERM'));
  runtime.onSignal('SIGINT', () => stop('SIGINT'));
  // A configuration that fails any check is refused whole, with its reason, and the running
  // one stays.
  let reloading = false;
  runtime.onSignal('SIGHUP', () => {
    if (reloading || stopping) return;
    reloading = true;
    options
      .load()
      .then(async (next) => {
        // A file that now lists no upstreams keeps the running ones.
        if (next.upstreams.length === 0) next = { ...next, upstreams: server.config.upstreams };
        const needRestart = await server.reload(next);
        options.onEvent({ kind: 'reloaded', config: next, needRestart });
      })
      .catch((e: Error) => options.onEvent({ kind: 'reload-refused', error: e.message }))
      .finally(() => (reloading = false));
  });
  // The network changed (#12): the OpenWrt hotplug script sends it on ifup and ifupdate.
  runtime.onSignal('SIGUSR2', () => server.networkChanged('SIGUSR2'));
  runtime.onSignal('SIGUSR1', () => {
    if (server.snapshot) void server.snapshot.write('request');
    else options.onEvent({ kind: 'no-snapshot' });
  });
  return new Promise<never>(() => {});
}
