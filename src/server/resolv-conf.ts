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
