// Opening a verified TLS connection to one upstream, shared by DoT and DoH: resolve its host
// name through the bootstrap if it has one, connect within a deadline (through the HTTP proxy
// if one is set), check the key against the pins, and report a failure once per change of
// reason so the log is not flooded. There is no fallback: a connection that fails here fails
// the copy, never goes out in plain text, and never goes around a proxy that refused it.

import { ErrorCode, HoldfastError, isHoldfastError } from '../../core/errors.ts';
import type { CorePorts, StreamHandlers, TlsOptions, TlsStream } from '../../core/ports.ts';
import { dialTarget, resolveTarget } from '../dial-target.ts';
import type { UpstreamSpec } from '../spec.ts';
import type { EncryptedTransportSettings } from '../transport.ts';

export interface TlsDialer {
  /** A connection whose handlers are `handlers`; rejects with an upstreamTls HoldfastError. */
  dial(handlers: StreamHandlers): Promise<TlsStream>;
}

export function createTlsDialer(
  spec: UpstreamSpec,
  settings: EncryptedTransportSettings,
  ports: CorePorts,
  alpn?: readonly string[],
): TlsDialer {
  const tls = spec.tls!;
  const pins = tls.pins;
  const proxy = settings.proxy ?? null;
  const via = proxy ? ` through proxy ${proxy.label}` : '';
  let lastFailure: string | null = null;

  const fail = (why: string, code: ErrorCode = ErrorCode.upstreamTls): HoldfastError => {
    // A proxy's own error names it already.
    const message = `upstream: TLS connection to ${spec.label}${code === ErrorCode.upstreamProxy ? '' : via} failed (${why})`;
    if (message !== lastFailure) {
      lastFailure = message;
      settings.onEvent?.({ upstream: spec.label, kind: 'connect-failed', code, message });
    }
    return new HoldfastError(code, message);
  };

  /** Where the TCP connection goes: the proxy if there is one, else the upstream. */
  const dialled = dialTarget(spec, proxy);

  const connect = (to: string, handlers: StreamHandlers): Promise<TlsStream> =>
    new Promise((resolve, reject) => {
      let done = false;
      // The deadline covers everything before TLS is up: the TCP connection, the proxy's
      // answer to CONNECT, the handshake. Aborting frees the socket of a proxy that never answers.
      const abort = new AbortController();
      const timer = ports.timers.setTimeout(() => {
        done = true;
        abort.abort();
        reject(new Error(`no ${proxy ? 'tunnel and ' : ''}handshake within ${settings.connectTimeoutMs} ms`));
      }, settings.connectTimeoutMs);
      // Asked at each dial: once the clock is set, new connections get the full checks (#12).
      const floor = settings.clockGuard?.floorMs() ?? null;
      const options: TlsOptions = {
        serverName: tls.serverName,
        caPem: settings.caPem,
        alpn,
        peerKey: pins.length > 0,
        tunnel: dialled.tunnel() ?? undefined,
        signal: abort.signal,
        ...(floor !== null ? { clockFloorMs: floor } : {}),
      };
      ports.net.connectTls(to, dialled.port, options, handlers).then(
        (stream) => {
          ports.timers.clearTimeout(timer);
          if (done) stream.close();
          else resolve(stream);
        },
        (e: unknown) => {
          ports.timers.clearTimeout(timer);
          if (!done) reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });

  return {
    async dial(handlers) {
      const to = await resolveTarget(dialled, settings.resolveHost, (why) => fail(why));
      let stream: TlsStream;
      try {
        stream = await connect(to, handlers);
      } catch (e) {
        // The name may have moved: ask the bootstrap again before the next attempt.
        if (dialled.family === 0) settings.resolveHost?.forget(dialled.host);
        // A proxy's refusal is named as such: the fix is in the proxy, not the upstream.
        throw fail((e as Error).message, isHoldfastError(e, ErrorCode.upstreamProxy) ? ErrorCode.upstreamProxy : ErrorCode.upstreamTls);
      }
      if (pins.length > 0) {
        const key = stream.peerKeySha256;
        if (key === null || !pins.includes(key)) {
          stream.close();
          // RFC 7469 §2.6: a pin mismatch fails the connection even when the chain is valid.
          throw fail(key === null ? 'this runtime could not read the server key, so its pin cannot be checked' : `server key sha256/${key} matches no pin`);
        }
      }
      if (stream.validityIgnored) settings.clockGuard?.accepted(spec.label, stream.validityIgnored);
      if (lastFailure !== null) {
        lastFailure = null;
        settings.onEvent?.({ upstream: spec.label, kind: 'connected', code: null, message: `upstream: TLS connection to ${spec.label} works again` });
      }
      return stream;
    },
  };
}
