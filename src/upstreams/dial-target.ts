// Where a connection to an upstream goes, for the TLS dialer and the relay's plain one alike:
// to the HTTP proxy when one is set (the proxy then resolves the upstream's name itself, as curl
// and browsers let it: a network that needs a proxy often has no other way out, not even for
// DNS), else to the upstream; a host name is resolved through the bootstrap.

import type { HoldfastError } from '../core/errors.ts';
import type { TlsTunnel } from '../core/ports.ts';
import type { ProxyUrl } from '../core/net/proxy-url.ts';
import { connectAuthority, createTunnel } from './proxy-connect.ts';
import type { UpstreamSpec } from './spec.ts';
import type { HostResolver } from './transport.ts';

export interface DialTarget {
  readonly host: string;
  readonly family: 4 | 6 | 0;
  readonly port: number;
  /** How messages name it: "proxy " or nothing. */
  readonly what: string;
  /** A fresh CONNECT tunnel to the upstream for each connection; null without a proxy. */
  tunnel(): TlsTunnel | null;
}

export function dialTarget(spec: UpstreamSpec, proxy: ProxyUrl | null): DialTarget {
  if (!proxy) return { host: spec.address, family: spec.family, port: spec.port, what: '', tunnel: () => null };
  const authority = connectAuthority(spec.address, spec.port);
  const credentials = proxy.username !== null ? { username: proxy.username, password: proxy.password ?? '' } : null;
  return { host: proxy.host, family: proxy.family, port: proxy.port, what: 'proxy ', tunnel: () => createTunnel(proxy.label, authority, credentials) };
}

/** The address to connect to; `fail` turns a reason into the caller's error. */
export async function resolveTarget(t: DialTarget, resolver: HostResolver | undefined, fail: (why: string) => HoldfastError): Promise<string> {
  if (t.family !== 0) return t.host;
  if (!resolver) throw fail(`${t.what}"${t.host}" is a host name and no bootstrap upstream is set`);
  try {
    return await resolver.resolve(t.host);
  } catch (e) {
    throw fail(`could not resolve ${t.what}"${t.host}": ${(e as Error).message}`);
  }
}
