// Downloading one list over HTTPS with Holdfast's own pieces: the TLS dialer the DoH upstreams
// use (so --ca-file and --proxy apply), the HTTP/1.1 reader, and a host name resolved through
// Holdfast's own upstreams, never the system resolver (which on a router is Holdfast itself,
// or dnsmasq that Holdfast replaced). Conditional (If-None-Match, If-Modified-Since): an
// unchanged list costs a 304 and no body. At most a few redirects, all to https://.

import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import { isIpv4, isIpv6 } from '../../core/net/host-port.ts';
import type { CorePorts, TlsStream } from '../../core/ports.ts';
import { VERSION } from '../../core/version.ts';
import { createResponseReader, encodeRequest, type HttpResponse } from '../../upstreams/http/http1.ts';
import type { UpstreamSpec } from '../../upstreams/spec.ts';
import { createTlsDialer } from '../../upstreams/tls/dialer.ts';
import { DEFAULT_ENCRYPTED_SETTINGS, type EncryptedTransportSettings, type HostResolver } from '../../upstreams/transport.ts';
import type { ProxyUrl } from '../../core/net/proxy-url.ts';
import type { ClockGuard } from '../../upstreams/clock-guard.ts';

export interface FetchSettings {
  readonly caPem?: string;
  readonly resolveHost: HostResolver;
  readonly proxy?: ProxyUrl;
  readonly connectTimeoutMs: number;
  /** The whole download, redirects included, may take this long. */
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** Whether the clock can be believed for certificates' validity (#12). */
  readonly clockGuard?: ClockGuard;
}

/** What we had last time, to ask only for a change. */
export interface Validators {
  readonly etag: string | null;
  readonly lastModified: string | null;
}

export type FetchResult =
  | { readonly kind: 'not-modified' }
  | { readonly kind: 'fetched'; readonly body: Uint8Array; readonly validators: Validators };

const MAX_REDIRECTS = 3;
const MAX_HEAD_BYTES = 32 * 1024;

/** The https:// URL as a spec the TLS dialer takes: host, port, the certificate's name. */
function specOf(url: URL): UpstreamSpec {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const family = isIpv4(host) ? 4 : isIpv6(host) ? 6 : 0;
  return { protocol: 'https', address: host, port: url.port ? Number(url.port) : 443, family, label: url.origin, tls: { serverName: host, pins: [] } };
}

function fail(url: string, why: string): HoldfastError {
  return new HoldfastError(ErrorCode.upstreamHttp, `block list: ${url} could not be downloaded (${why})`);
}

/** One GET on a fresh connection, closed after. */
function getOnce(url: URL, validators: Validators | null, settings: FetchSettings, ports: CorePorts): Promise<HttpResponse> {
  const transport: EncryptedTransportSettings = {
    ...DEFAULT_ENCRYPTED_SETTINGS,
    caPem: settings.caPem,
    connectTimeoutMs: settings.connectTimeoutMs,
    resolveHost: settings.resolveHost,
    proxy: settings.proxy,
    clockGuard: settings.clockGuard,
  };
  const dialer = createTlsDialer(specOf(url), transport, ports, ['http/1.1']);
  const headers: Array<[string, string]> = [
    ['User-Agent', `holdfast/${VERSION}`],
    ['Accept-Encoding', 'identity'],
    ['Connection', 'close'],
  ];
  if (validators?.etag) headers.push(['If-None-Match', validators.etag]);
  if (validators?.lastModified) headers.push(['If-Modified-Since', validators.lastModified]);
  const request = encodeRequest({ method: 'GET', target: `${url.pathname}${url.search}`, authority: url.host, headers });
  return new Promise((resolve, reject) => {
    let settled = false;
    let stream: TlsStream | null = null;
    const done = (error: Error | null, response?: HttpResponse) => {
      if (settled) return;
      settled = true;
      ports.timers.clearTimeout(timer);
      stream?.close();
      if (error) reject(error);
      else resolve(response!);
    };
    const timer = ports.timers.setTimeout(() => done(fail(url.href, `no whole answer within ${settings.timeoutMs} ms`)), settings.timeoutMs);
    const reader = createResponseReader(
      { maxHeadBytes: MAX_HEAD_BYTES, maxBodyBytes: settings.maxBytes },
      (r) => done(null, r),
      (why) => done(fail(url.href, why)),
    );
    dialer
      .dial({
        onData: (bytes) => reader.push(bytes),
        onClose: (e) => {
          reader.end();
          done(fail(url.href, e ? e.message : 'connection closed before the answer'));
        },
      })
      .then(
        (s) => {
          stream = s;
          if (settled) s.close();
          else s.write(request);
        },
        (e: Error) => done(fail(url.href, e.message)),
      );
  });
}

/** Downloads `href`, following redirects; rejects with a HoldfastError saying why. */
export async function fetchList(href: string, validators: Validators | null, settings: FetchSettings, ports: CorePorts): Promise<FetchResult> {
  let url = new URL(href);
  for (let hop = 0; ; hop++) {
    const r = await getOnce(url, validators, settings, ports);
    if (r.status === 304 && validators) return { kind: 'not-modified' };
    if (r.status === 200) {
      return { kind: 'fetched', body: r.body, validators: { etag: r.headers.get('etag') ?? null, lastModified: r.headers.get('last-modified') ?? null } };
    }
    const location = r.headers.get('location');
    if (r.status >= 300 && r.status < 400 && location && hop < MAX_REDIRECTS) {
      const next = new URL(location, url);
      if (next.protocol !== 'https:') throw fail(href, `redirected to ${next.href}, which is not https://`);
      url = next;
      continue;
    }
    throw fail(href, `HTTP ${r.status}${r.reason ? ` ${r.reason}` : ''}`);
  }
}
