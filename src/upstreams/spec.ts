// Upstream addresses as a user writes them:
//   udp://IP[:PORT]  tcp://IP[:PORT]
//   tls://HOST[:PORT][?pin=sha256/BASE64...][#TLS-NAME]          DNS over TLS, RFC 7858 (853)
//   https://HOST[:PORT]/PATH[?method=get&pin=...][#TLS-NAME]     DNS over HTTPS, RFC 8484 (443)
//   relay+https://HOST[:PORT][/BASE][?token=T&pin=...][#TLS-NAME]  relay protocol v1 (443)
//   relay+http://HOST[:PORT][/BASE][?token=T]                      the same in clear text (80)
// HOST may be a name for all but udp:// and tcp://; it is then resolved through a bootstrap upstream.

import { ErrorCode, HoldfastError } from '../core/errors.ts';
import { isHostName, isIpv4, isIpv6, splitHostPort } from '../core/net/host-port.ts';
import { redactUrl } from '../core/net/redact-url.ts';

export const UpstreamProtocol = { udp: 'udp', tcp: 'tcp', tls: 'tls', https: 'https', relay: 'relay' } as const;
export type UpstreamProtocol = (typeof UpstreamProtocol)[keyof typeof UpstreamProtocol];

export interface TlsSpec {
  /** The name the certificate must be valid for: `#TLS-NAME`, else HOST. */
  readonly serverName: string;
  /** Base64 SHA-256 SPKI pins (RFC 7469 §2.4); the key must match one. Empty: no pinning. */
  readonly pins: readonly string[];
}

export interface HttpSpec {
  /** Path and any query string of the DoH endpoint, e.g. "/dns-query". */
  readonly path: string;
  readonly method: 'POST' | 'GET';
  /** The Host header. */
  readonly authority: string;
}

export interface RelaySpec {
  /** The base path, without a trailing "/": requests go to BASE/v1/dns and BASE/v1/info. */
  readonly base: string;
  /** The bearer token from the URL (`?token=`), else null (then --relay-token, if any). */
  readonly token: string | null;
}

export interface UpstreamSpec {
  readonly protocol: UpstreamProtocol;
  /** An IP address; for tls:// and https:// also a host name (family 0) to resolve at start. */
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6 | 0;
  /** As given by the user with any token or password hidden (redactUrl), for logs and metrics labels. */
  readonly label: string;
  /** tls:// and https:// only. */
  readonly tls?: TlsSpec;
  /** https:// and relay+http(s):// (whose path is the relay's base). */
  readonly http?: HttpSpec;
  /** relay+https:// and relay+http:// only. */
  readonly relay?: RelaySpec;
}

/** Is this upstream spoken to over TLS (DoT or DoH)? */
export function isEncrypted(spec: UpstreamSpec): boolean {
  return spec.tls !== undefined;
}

/** Does this upstream go through the HTTP proxy when one is set (everything but udp:// and tcp://)? */
export function isProxied(spec: UpstreamSpec): boolean {
  return spec.protocol !== 'udp' && spec.protocol !== 'tcp';
}

const EXPECTED = 'expected udp://IP[:PORT], tcp://IP[:PORT], tls://HOST[:PORT][#TLS-NAME], https://HOST[:PORT]/PATH or relay+https://HOST[:PORT][/BASE]';
const DEFAULT_PORT: Record<string, number> = { udp: 53, tcp: 53, tls: 853, https: 443, 'relay+https': 443, 'relay+http': 80 };
const SCHEMES = new Set(Object.keys(DEFAULT_PORT));
/** A SHA-256 digest in base64: 32 bytes are 43 characters and one "=". */
const PIN = /^sha256\/([A-Za-z0-9+/]{43}=)$/;

export function parseUpstream(text: string): UpstreamSpec {
  const bad = (why: string) => new HoldfastError(ErrorCode.config, `upstream: "${redactUrl(text)}" ${why} (${EXPECTED})`);
  const m = /^([a-z+]+):\/\/(.+)$/.exec(text);
  if (!m) throw bad('has no scheme');
  const scheme = m[1];
  if (!SCHEMES.has(scheme)) throw bad(`uses scheme "${scheme}", which is not supported`);
  const relay = scheme.startsWith('relay+');
  const protocol: UpstreamProtocol = relay ? 'relay' : (scheme as UpstreamProtocol);
  const encrypted = protocol === 'tls' || protocol === 'https' || scheme === 'relay+https';
  // May the host be a name, resolved through the bootstrap?
  const named = protocol !== 'udp' && protocol !== 'tcp';

  // Split off, in order: #TLS-NAME, ?OPTIONS, /PATH.
  let rest = m[2];
  let fragment: string | null = null;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
  }
  let queryText: string | null = null;
  const question = rest.indexOf('?');
  if (question >= 0) {
    queryText = rest.slice(question + 1);
    rest = rest.slice(0, question);
  }
  let path = '';
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    path = rest.slice(slash);
    rest = rest.slice(0, slash);
  }
  if (!named && (fragment !== null || queryText !== null)) throw bad('has options, which only tls:// and https:// take');
  if (scheme === 'relay+http' && fragment !== null) throw bad('gives a certificate name, and relay+http:// has no TLS (relay+https:// does)');
  if (protocol === 'tls' && path !== '' && path !== '/') throw bad('has a path, which only https:// takes');
  if (protocol === 'https' && (path === '' || path === '/')) throw bad('has no path (DoH servers commonly use /dns-query)');

  const hp = splitHostPort(rest);
  if (!hp) throw bad('has a malformed address or port');
  const family = isIpv4(hp.host) ? 4 : isIpv6(hp.host) ? 6 : 0;
  if (family === 0 && !(named && isHostName(hp.host))) {
    throw bad(named ? `names host "${hp.host}", which is neither an IP address nor a host name` : `names host "${hp.host}", which is not an IP address`);
  }
  const port = hp.port ?? DEFAULT_PORT[scheme];
  if (port === 0) throw bad('has port 0');
  if (!named) return { protocol, address: hp.host, port, family, label: redactUrl(text) };

  if (fragment !== null && !isHostName(fragment)) throw bad(`gives "#${fragment}" as the certificate name, which is not a host name`);
  const serverName = fragment ?? hp.host.replace(/\.$/, '');
  const pins: string[] = [];
  let method: 'POST' | 'GET' = 'POST';
  let token: string | null = null;
  const kept: string[] = [];
  for (const part of queryText ? queryText.split('&') : []) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    let value: string;
    try {
      value = decodeURIComponent(eq < 0 ? '' : part.slice(eq + 1));
    } catch {
      throw bad(`has a malformed option "${part}"`);
    }
    if (key === 'token' && relay) {
      if (!/^\S+$/.test(value)) throw bad('has an empty token or one with spaces');
      token = value;
    } else if (key === 'pin' && encrypted) {
      const pin = PIN.exec(value);
      if (!pin) throw bad(`has pin "${value}", which is not sha256/ and 44 characters of base64`);
      pins.push(pin[1]);
    } else if (key === 'method' && protocol === 'https') {
      if (value !== 'get' && value !== 'post') throw bad(`has method "${value}" (get or post)`);
      method = value === 'get' ? 'GET' : 'POST';
    } else if (protocol === 'https') {
      kept.push(part); // the endpoint's own query string
    } else {
      throw bad(`has option "${key}" (${relay ? `${scheme}:// takes token=${encrypted ? ' and pin=sha256/BASE64' : ''}` : 'tls:// takes pin=sha256/BASE64'})`);
    }
  }
  const address = hp.host.replace(/\.$/, '');
  const base: UpstreamSpec = { protocol, address, port, family, label: redactUrl(text) };
  const spec: UpstreamSpec = encrypted ? { ...base, tls: { serverName, pins } } : base;
  if (protocol === 'tls') return spec;
  const hostPart = fragment ?? (family === 6 ? `[${hp.host}]` : hp.host);
  const authority = port === DEFAULT_PORT[scheme] ? hostPart : `${hostPart}:${port}`;
  if (relay) {
    const relayBase = path.replace(/\/+$/, '');
    return { ...spec, http: { path: relayBase, method: 'POST', authority }, relay: { base: relayBase, token } };
  }
  return { ...spec, http: { path: kept.length ? `${path}?${kept.join('&')}` : path, method, authority } };
}
