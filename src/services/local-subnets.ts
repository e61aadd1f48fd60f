// The subnets of this machine's own interfaces, for `local` in the allow list (what dnsmasq's
// local-service does). On a router the LAN's IPv6 clients mostly use global addresses from
// the prefix the ISP delegated, which no fixed list can name and which changes when the ISP
// renumbers; so the interfaces are read at start and again every `intervalMs`.

import type { InterfaceSubnet, Timers } from '../core/ports.ts';
import { cidrCovers, formatCidr, parseCidr, PRIVATE_RANGES, type Cidr } from '../core/net/cidr.ts';

/**
 * Prefixes shorter than these are not taken from an interface: no LAN is that large, but a
 * tunnel can be (6to4 puts 2002::/16 on its interface, Teredo 2001::/32), and a mistyped mask
 * (/0) would make Holdfast an open resolver. Inside a private range any length is taken
 * (127.0.0.1/8 on lo, 10.0.0.1/8), since those never reach strangers.
 */
export const MIN_LOCAL_PREFIX_BITS = { 4: 16, 6: 48 } as const;

const PRIVATE = PRIVATE_RANGES.map((p) => parseCidr(p) as Cidr);

export interface LocalPrefixes {
  readonly cidrs: readonly Cidr[];
  /** The networks as text ("192.168.1.0/24"), sorted, each once: equal lists, equal sets. */
  readonly texts: readonly string[];
  /** Interface addresses passed over as too broad, as "ADDR/BITS on NAME". */
  readonly ignored: readonly string[];
}

export const NO_PREFIXES: LocalPrefixes = { cidrs: [], texts: [], ignored: [] };

/** The on-link prefixes of `subnets`, each once, without the ones too broad to take. */
export function localPrefixesFrom(subnets: readonly InterfaceSubnet[]): LocalPrefixes {
  const byText = new Map<string, Cidr>();
  const ignored: string[] = [];
  for (const s of subnets) {
    const c = parseCidr(`${s.address}/${s.prefixBits}`);
    if (typeof c === 'string') continue;
    if (c.bits < MIN_LOCAL_PREFIX_BITS[c.family] && !PRIVATE.some((p) => cidrCovers(p, c))) {
      ignored.push(`${s.address}/${s.prefixBits} on ${s.name}`);
      continue;
    }
    const text = formatCidr(c);
    if (!byText.has(text)) byText.set(text, c);
  }
  // IPv4 first, then by text: a stable order to compare and to log.
  const texts = [...byText.keys()].sort((a, b) => Number(a.includes(':')) - Number(b.includes(':')) || (a < b ? -1 : a > b ? 1 : 0));
  return { cidrs: texts.map((t) => byText.get(t)!), texts, ignored: ignored.sort() };
}

export type LocalSubnetsEvent =
  /** A reading after the first found other prefixes than before; they are in force from now on. */
  | { readonly kind: 'changed'; readonly subnets: readonly string[]; readonly added: readonly string[]; readonly removed: readonly string[]; readonly ignored: readonly string[] }
  /** The interfaces could not be read; the prefixes from before stay in force. */
  | { readonly kind: 'failed'; readonly error: string; readonly subnets: readonly string[] };

export interface LocalSubnetsWatcher {
  /** Reads the interfaces now; on a change, hands the prefixes to `apply`. */
  refresh(): void;
  /** Reads them again every `intervalMs` from now on. */
  start(): void;
  stop(): void;
  /** The prefixes in force. */
  current(): LocalPrefixes;
}

export interface LocalSubnetsOptions {
  readonly intervalMs: number;
}

/**
 * Keeps `apply` told of the interfaces' prefixes. A reading that fails keeps the prefixes
 * already in force: a passing error must not turn the whole LAN away. Only the first failure
 * of a run is reported, so a system that never answers does not fill the log every minute.
 */
export function createLocalSubnetsWatcher(
  options: LocalSubnetsOptions,
  read: () => readonly InterfaceSubnet[],
  timers: Timers,
  apply: (cidrs: readonly Cidr[]) => void,
  onEvent: (e: LocalSubnetsEvent) => void = () => {},
): LocalSubnetsWatcher {
  let current: LocalPrefixes = NO_PREFIXES;
  // The first reading is the start-up state, which the caller reports itself.
  let first = true;
  let failing = false;
  let timer: unknown = null;

  function refresh(): void {
    const initial = first;
    first = false;
    let next: LocalPrefixes;
    try {
      next = localPrefixesFrom(read());
    } catch (e) {
      if (!failing) onEvent({ kind: 'failed', error: e instanceof Error ? e.message : String(e), subnets: current.texts });
      failing = true;
      return;
    }
    failing = false;
    const before = current.texts;
    const same = before.length === next.texts.length && before.every((t, i) => t === next.texts[i]);
    current = next;
    if (same) return;
    apply(next.cidrs);
    if (!initial) {
      onEvent({
        kind: 'changed',
        subnets: next.texts,
        added: next.texts.filter((t) => !before.includes(t)),
        removed: before.filter((t) => !next.texts.includes(t)),
        ignored: next.ignored,
      });
    }
  }

  function tick(): void {
    refresh();
    timer = timers.setTimeout(tick, options.intervalMs);
  }

  return {
    refresh,
    start() {
      if (timer === null) timer = timers.setTimeout(tick, options.intervalMs);
    },
    stop() {
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
    },
    current: () => current,
  };
}
