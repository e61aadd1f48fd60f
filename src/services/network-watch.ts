// Noticing that the network changed under us (#12): a new WAN address after a PPPoE reconnect,
// an interface down and up. Pooled DoT/DoH/relay connections then hang on a path that is gone
// until their own timeouts say so; told at once, the server drops them all and redials.
//
// The addresses of every interface are read every `intervalMs` (getifaddrs: some tens of
// microseconds on a router, see docs/upstreams.md) and compared with the last reading; the
// OpenWrt hotplug script (SIGUSR2) and POST /api/network-changed tell it sooner. Changes close
// together are one change: a reconnect brings addresses down and up within a second or two,
// and each redial costs a handshake per upstream.

import type { InterfaceSubnet, Timers } from '../core/ports.ts';

export interface NetworkWatch {
  /** Reads the interfaces now; on a change since the last reading, reports it. */
  check(): void;
  /** Something outside (a signal, the hotplug script) says the network changed. */
  changed(why: string): void;
  start(): void;
  stop(): void;
}

export interface NetworkWatchOptions {
  /** How often the interfaces are read; 0: only when told. */
  readonly intervalMs: number;
  /** Changes within this long of the last one reported are not reported again. */
  readonly quietMs: number;
}

/** The interfaces' addresses as one text: equal texts, equal addresses. */
export function addressesKey(subnets: readonly InterfaceSubnet[]): string {
  return subnets
    .map((s) => `${s.name} ${s.address}/${s.prefixBits}`)
    .sort()
    .join('\n');
}

export function createNetworkWatch(
  options: NetworkWatchOptions,
  read: () => readonly InterfaceSubnet[],
  timers: Timers,
  now: () => number,
  onChange: (why: string) => void,
): NetworkWatch {
  let last: string | null = null;
  let lastReportMs = -Infinity;
  let timer: unknown = null;

  const report = (why: string) => {
    const t = now();
    if (t - lastReportMs < options.quietMs) return;
    lastReportMs = t;
    onChange(why);
  };

  const check = () => {
    let key: string;
    try {
      key = addressesKey(read());
    } catch {
      // Unreadable now: nothing to compare; the next reading decides.
      return;
    }
    const before = last;
    last = key;
    if (before !== null && before !== key) report('the interface addresses changed');
  };

  const tick = () => {
    check();
    timer = timers.setTimeout(tick, options.intervalMs);
  };

  return {
    check,
    changed(why) {
      // The addresses as they are now become the base, so the next reading does not report
      // the same change a second time.
      try {
        last = addressesKey(read());
      } catch {
        // Kept as it was.
      }
      report(why);
    },
    start() {
      check();
      if (options.intervalMs > 0 && timer === null) timer = timers.setTimeout(tick, options.intervalMs);
    },
    stop() {
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
    },
  };
}
