// Addresses and host names as people write them ("192.0.2.1:53", "[2001:db8::1]:853",
// "dns.example"): written once, for upstream URLs, the proxy URL and listen addresses alike.

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:.]+$/;
/** RFC 1123 §2.1 labels (and underscores, which SRV-style names carry); a trailing dot is allowed. */
const HOST_NAME = /^(?=.{1,253}\.?$)([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*\.?$/;

export function isIpv4(s: string): boolean {
  return IPV4.test(s);
}

export function isIpv6(s: string): boolean {
  // A link-local address carries its zone ("fe80::1%eth0", RFC 4007 §11), as resolv.conf writes it.
  const bare = s.replace(/%[\w.-]+$/, '');
  return bare.includes(':') && IPV6.test(bare) && bare.split('::').length <= 2;
}

export function isHostName(s: string): boolean {
  return HOST_NAME.test(s);
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
