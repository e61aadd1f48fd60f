// Upstream addresses as a user writes them: udp://IP[:PORT], tcp://IP[:PORT].

import { ErrorCode, HoldfastError } from '../../core/errors.ts';

export const UpstreamProtocol = { udp: 'udp', tcp: 'tcp' } as const;
export type UpstreamProtocol = (typeof UpstreamProtocol)[keyof typeof UpstreamProtocol];

export interface UpstreamSpec {
  readonly protocol: UpstreamProtocol;
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** As given by the user, for logs and metrics labels. */
  readonly label: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:.]+$/;

export function isIpv4(s: string): boolean {
  return IPV4.test(s);
}

export function isIpv6(s: string): boolean {
  // A link-local address carries its zone ("fe80::1%eth0", RFC 4007 §11), as resolv.conf writes it.
  const bare = s.replace(/%[\w.-]+$/, '');
  return bare.includes(':') && IPV6.test(bare) && bare.split('::').length <= 2;
}

/** Splits "HOST:PORT", "[V6]:PORT", "HOST" or "V6" into parts; port is null when absent. */
export function splitHostPort(s: string): { host: string; port: number | null } | null {
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return null;
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return null;
    portText = rest === '' ? undefined : rest.slice(1);
  } else if (s.split(':').length > 2) {
    host = s; // a bare IPv6 address
  } else {
    const colon = s.lastIndexOf(':');
    host = colon < 0 ? s : s.slice(0, colon);
    portText = colon < 0 ? undefined : s.slice(colon + 1);
  }
  if (portText === undefined) return { host, port: null };
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return null;
  return { host, port: Number(portText) };
}

export function parseUpstream(text: string): UpstreamSpec {
  const bad = (why: string) =>
    new HoldfastError(ErrorCode.config, `upstream: "${text}" ${why} (expected udp://IP[:PORT] or tcp://IP[:PORT])`);
  const m = /^([a-z+]+):\/\/(.+)$/.exec(text);
  if (!m) throw bad('has no scheme');
  const protocol = m[1];
  if (protocol !== 'udp' && protocol !== 'tcp') throw bad(`uses scheme "${protocol}", which is not supported`);
  const hp = splitHostPort(m[2].replace(/\/$/, ''));
  if (!hp) throw bad('has a malformed address or port');
  const family = isIpv4(hp.host) ? 4 : isIpv6(hp.host) ? 6 : 0;
  if (family === 0) throw bad(`names host "${hp.host}", which is not an IP address`);
  const port = hp.port ?? 53;
  if (port === 0) throw bad('has port 0');
  return { protocol, address: hp.host, port, family, label: text };
}
