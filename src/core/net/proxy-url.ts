// The HTTP proxy as a user writes it: http://[USER:PASS@]HOST[:PORT][/]. Here, in the core, so
// that validateConfig can name the key of a bad one and the pipeline can use the same parse.

import { isHostName, isIpv4, isIpv6 } from './host-port.ts';
import { redactUrl } from './redact-url.ts';

/** Port of a proxy URL without one: curl's default for proxies that are not https://. */
export const DEFAULT_PROXY_PORT = 1080;

export interface ProxyUrl {
  /** An IP address, or a host name (family 0) to resolve through the bootstrap. */
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6 | 0;
  /** Percent-decoded, as in curl; null when the URL has no USER:PASS@. */
  readonly username: string | null;
  readonly password: string | null;
  /** HOST:PORT ([V6]:PORT), for logs: never the credentials. */
  readonly label: string;
}


function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/** The parsed URL, or what is wrong with it (a phrase that follows the key's name). */
export function parseProxyUrl(text: string): ProxyUrl | string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  if (!scheme) return `must be http://[USER:PASS@]HOST[:PORT] (got "${text}")`;
  if (scheme[1].toLowerCase() !== 'http') {
    return `must be an http:// proxy, spoken to in plain HTTP with CONNECT; ${scheme[1].toLowerCase()}:// proxies are not supported (got "${redact(text)}")`;
  }
  let rest = text.slice(scheme[0].length);
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (/[/?#]/.test(rest)) return `must have no path, query or fragment after HOST[:PORT] (got "${redact(text)}")`;
  const at = rest.lastIndexOf('@');
  let username: string | null = null;
  let password: string | null = null;
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    username = decode(colon < 0 ? userinfo : userinfo.slice(0, colon));
    password = colon < 0 ? '' : decode(userinfo.slice(colon + 1));
    if (username === null || password === null) return 'has a user or password with a malformed %-escape';
    if (username === '') return 'has a password but no user name before it';
    // The credentials travel in a header: a line break would end it.
    if (/[\x00-\x1f\x7f]/.test(username + password)) return 'has a control character in its user or password';
  }
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return `has an unclosed [ in its host (got "${redact(text)}")`;
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return `has text after its [IPv6] host (got "${redact(text)}")`;
    portText = after === '' ? undefined : after.slice(1);
    if (!(host.includes(':') && isIpv6(host))) return `has "${host}" in brackets, which is not an IPv6 address`;
  } else {
    const colon = rest.lastIndexOf(':');
    host = colon < 0 ? rest : rest.slice(0, colon);
    portText = colon < 0 ? undefined : rest.slice(colon + 1);
    if (host.includes(':')) return `must write an IPv6 host in brackets, http://[ADDR]:PORT (got "${redact(text)}")`;
  }
  if (host === '') return `has no host (got "${redact(text)}")`;
  let port = DEFAULT_PROXY_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) return `has port "${portText}", which is not 1 to 65535`;
    port = Number(portText);
  }
  const family = host.includes(':') ? 6 : isIpv4(host) ? 4 : 0;
  if (family === 0 && (/^[\d.]+$/.test(host) || !isHostName(host))) return `has host "${host}", which is neither an IP address nor a host name`;
  return { host, port, family, username, password, label: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/** The URL with any password replaced, for error messages that may reach a log (see redactUrl). */
export const redact = redactUrl;
