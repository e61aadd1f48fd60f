// Which Host header values the HTTP port answers (#15). Without a check, a web page on any site
// can point its own name at our LAN address (DNS rebinding) and read /api/queries through the
// visitor's browser, which sends that page's name as Host. A request names us only by one of
// our own addresses (the listen address, loopback, the machine's interfaces) or by a name the
// owner gave (http.allowedHosts); anything else gets 421 Misdirected Request (RFC 9110 §15.5.20).

import { LOOPBACK_RANGES, createCidrSet, parseAddress, parseCidr, type Cidr } from '../../core/net/cidr.ts';
import { splitHostPort } from '../../core/net/host-port.ts';
import type { HttpHandler } from '../../core/ports.ts';

const LOOPBACK = createCidrSet(LOOPBACK_RANGES.map((p) => parseCidr(p) as Cidr));
/** Names that always mean this machine (RFC 6761 §6.3: localhost resolves to loopback only). */
const LOCAL_NAMES = new Set(['localhost', 'localhost.localdomain']);

export interface HostCheckOptions {
  /** The address listened on (a wildcard adds nothing: the interfaces' addresses stand for it). */
  readonly listenAddress: string;
  /** Names given in config, in any case, with or without a final dot. */
  readonly allowedHosts: readonly string[];
  /** The interfaces' addresses now; read on a Host not otherwise known (addresses come and go). */
  readonly interfaceAddresses: () => readonly string[];
}

/** The host of a Host header, lower case, without port, brackets or final dot; null if unreadable. */
export function hostOf(header: string): string | null {
  const hp = splitHostPort(header.trim());
  if (!hp || hp.host === '') return null;
  return hp.host.toLowerCase().replace(/\.$/, '');
}

/** The same address written two ways ("::ffff:127.0.0.1" and "127.0.0.1") reads as one. */
function canonicalAddress(text: string): string | null {
  const words = new Uint32Array(4);
  const family = parseAddress(text, words);
  if (family === 0) return null;
  return family === 4 ? `4:${words[0]}` : `6:${words.join(',')}`;
}

/** Does `header` (null: no Host header at all) name this server? */
export function createHostCheck(options: HostCheckOptions): (header: string | null) => boolean {
  const names = new Set([...LOCAL_NAMES, ...options.allowedHosts.map((h) => h.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, ''))]);
  const listen = canonicalAddress(options.listenAddress);
  const words = new Uint32Array(4);
  return (header) => {
    // HTTP/1.0 clients may send none; a browser, the only client rebinding can use, always does.
    if (header === null) return true;
    const host = hostOf(header);
    if (host === null) return false;
    if (names.has(host)) return true;
    const family = parseAddress(host, words);
    if (family === 0) return false;
    if (LOOPBACK.contains(family, words)) return true;
    const asked = canonicalAddress(host);
    if (asked === listen) return true;
    try {
      return options.interfaceAddresses().some((a) => canonicalAddress(a) === asked);
    } catch {
      return false;
    }
  };
}

/** `handler`, answering 421 to a request whose Host is not ours. */
export function withHostCheck(handler: HttpHandler, isOurs: (header: string | null) => boolean): HttpHandler {
  return (request, from) => {
    if (!isOurs(request.headers.get('host'))) {
      return new Response('misdirected request: this server does not answer to that Host\n', {
        status: 421,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
      });
    }
    return handler(request, from);
  };
}

/** Is `address` (a listen address) loopback only, so nothing beyond this machine can reach it? */
export function isLoopbackAddress(address: string): boolean {
  const w = new Uint32Array(4);
  const family = parseAddress(address, w);
  return family !== 0 && LOOPBACK.contains(family, w);
}
