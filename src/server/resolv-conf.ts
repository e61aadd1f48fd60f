// Upstreams from /etc/resolv.conf, for a user who gave none: its nameserver lines, minus any
// that would send queries back to Holdfast itself.

import type { ListenAddress } from '../core/config.ts';

export function nameserversFrom(resolvConf: string, own: readonly ListenAddress[]): string[] {
  const found: string[] = [];
  for (const raw of resolvConf.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)$/.exec(line);
    if (!m) continue;
    // A scoped IPv6 address ("fe80::1%eth0") carries its zone; sockets take it as written.
    const address = m[1];
    const loopsBack = own.some((l) => l.port === 53 && (l.address === address || l.address === '0.0.0.0' || l.address === '::'));
    if (!loopsBack) found.push(address.includes(':') ? `udp://[${address}]:53` : `udp://${address}:53`);
  }
  return found;
}
