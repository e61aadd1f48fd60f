// Upstreams from /etc/resolv.conf, for a user who gave none: its nameserver lines, minus any
// that would send queries back to Holdfast itself.

import type { ListenAddress } from '../config/config.ts';

// A wildcard listener takes queries to this machine's loopback addresses of its family; a
// remote nameserver such as the LAN router never reaches it.
const wildcardOf = (address: string) => (address.includes(':') ? '::' : '0.0.0.0');
const isLoopback = (address: string) => /^127\./.test(address) || address === '::1' || address === '0.0.0.0' || address === '::';

export function nameserversFrom(resolvConf: string, own: readonly ListenAddress[]): string[] {
  const found: string[] = [];
  for (const raw of resolvConf.split(/\r?\n/)) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)$/.exec(line);
    if (!m) continue;
    // A scoped IPv6 address ("fe80::1%eth0") carries its zone; sockets take it as written.
    const address = m[1];
    const loopsBack = own.some((l) => l.port === 53 && (l.address === address || (l.address === wildcardOf(address) && isLoopback(address))));
    if (!loopsBack) found.push(address.includes(':') ? `udp://[${address}]:53` : `udp://${address}:53`);
  }
  return found;
}

/**
 * Where the system keeps its resolvers, in the order read, for a user who gave no upstream. On
 * OpenWrt /etc/resolv.conf names dnsmasq (127.0.0.1), and the WAN's resolvers, as netifd got
 * them by DHCP or PPP, are in resolv.conf.auto: read first, as dnsmasq itself does. With
 * systemd-resolved, /etc/resolv.conf names its stub (127.0.0.53) and its uplinks are in /run.
 */
export const SYSTEM_RESOLV_FILES = [
  '/tmp/resolv.conf.d/resolv.conf.auto', // OpenWrt 21.02 and later
  '/tmp/resolv.conf.auto', // older OpenWrt
  '/etc/resolv.conf',
  '/run/systemd/resolve/resolv.conf', // systemd-resolved's uplinks, when /etc/resolv.conf names only its stub
] as const;

/** Loopback or unspecified, IPv4, IPv6 or IPv4-mapped: a resolver on this very machine. */
function isLoopbackOrAny(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:(?=\d+\.)/, '');
  return /^127\./.test(a) || a === '0.0.0.0' || a === '::1' || a === '::' || /^(0{1,4}:){7}0{0,3}[01]$/.test(a);
}

export interface SystemUpstreams {
  readonly upstreams: string[];
  /** Nameservers left out, each with the file that named it. */
  readonly skipped: string[];
}

/**
 * The nameservers of one resolv.conf-style file that may be forwarded to. A nameserver on this
 * machine (loopback, unspecified, or one of `localAddresses`: the interfaces' addresses and our
 * own listen addresses) is left out: on a router or a Pi that is dnsmasq, systemd-resolved,
 * unbound or Pi-hole, the very forwarder a user points at Holdfast, and forwarding back to it
 * loops every query until it times out. dnsmasq likewise ignores its own addresses in
 * resolv.conf. A local resolver that does not forward to us can still be given with --upstream.
 */
export function upstreamsFrom(resolvConf: string, localAddresses: readonly string[]): SystemUpstreams {
  const local = new Set(localAddresses.map((a) => a.toLowerCase()));
  const upstreams: string[] = [];
  const skipped: string[] = [];
  for (const u of nameserversFrom(resolvConf, [])) {
    const address = parseNameserver(u);
    const bare = address.replace(/%.*$/, '').toLowerCase();
    if (isLoopbackOrAny(bare) || local.has(bare)) skipped.push(address);
    else upstreams.push(u);
  }
  return { upstreams, skipped };
}

/** The address back out of a udp://ADDR:53 that nameserversFrom made. */
function parseNameserver(url: string): string {
  const hostPort = url.slice('udp://'.length, -':53'.length);
  return hostPort.startsWith('[') ? hostPort.slice(1, -1) : hostPort;
}

/**
 * The upstreams from the first of `files` that names one Holdfast may use, with the file it
 * came from; `file` is null when none does (`skipped` then says what was left out and why).
 */
export async function upstreamsFromSystem(
  fs: { readText(path: string): Promise<string | null> },
  localAddresses: readonly string[],
  files: readonly string[] = SYSTEM_RESOLV_FILES,
): Promise<SystemUpstreams & { readonly file: string | null }> {
  const skipped: string[] = [];
  for (const file of files) {
    const text = await fs.readText(file).catch(() => null);
    if (text === null) continue;
    const found = upstreamsFrom(text, localAddresses);
    skipped.push(...found.skipped.map((a) => `${a} in ${file}`));
    if (found.upstreams.length) return { file, upstreams: found.upstreams, skipped };
  }
  return { file: null, upstreams: [], skipped };
}
