// Opening a verified TLS connection to one upstream, shared by DoT and DoH: resolve its host
// name through the bootstrap if it has one, connect within a deadline, check the key against
// the pins, and report a failure once per change of reason so the log is not flooded. There
// is no fallback: a connection that fails here fails the copy, never goes out in plain text.

import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { CorePorts, StreamHandlers, TlsStream } from '../../core/ports.ts';
import type { UpstreamSpec } from './spec.ts';
import type { EncryptedTransportSettings } from './transport.ts';

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
  let lastFailure: string | null = null;

  const fail = (why: string): HoldfastError => {
    const message = `upstream: TLS connection to ${spec.label} failed (${why})`;
    if (message !== lastFailure) {
      lastFailure = message;
      settings.onEvent?.({ upstream: spec.label, kind: 'connect-failed', code: ErrorCode.upstreamTls, message });
    }
    return new HoldfastError(ErrorCode.upstreamTls, message);
  };

  const address = async (): Promise<string> => {
    if (spec.family !== 0) return spec.address;
    if (!settings.resolveHost) throw fail(`"${spec.address}" is a host name and no bootstrap upstream is set`);
    try {
      return await settings.resolveHost.resolve(spec.address);
    } catch (e) {
      throw fail(`could not resolve "${spec.address}": ${(e as Error).message}`);
    }
  };

  const connect = (to: string, handlers: StreamHandlers): Promise<TlsStream> =>
    new Promise((resolve, reject) => {
      let done = false;
      const timer = ports.timers.setTimeout(() => {
        done = true;
        reject(new Error(`no handshake within ${settings.connectTimeoutMs} ms`));
      }, settings.connectTimeoutMs);
      ports.net.connectTls(to, spec.port, { serverName: tls.serverName, caPem: settings.caPem, alpn, peerKey: pins.length > 0 }, handlers).then(
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
      const to = await address();
      let stream: TlsStream;
      try {
        stream = await connect(to, handlers);
      } catch (e) {
        // The name may have moved: ask the bootstrap again before the next attempt.
        if (spec.family === 0) settings.resolveHost?.forget(spec.address);
        throw fail((e as Error).message);
      }
      if (pins.length > 0) {
        const key = stream.peerKeySha256;
        if (key === null || !pins.includes(key)) {
          stream.close();
          // RFC 7469 §2.6: a pin mismatch fails the connection even when the chain is valid.
          throw fail(key === null ? 'this runtime could not read the server key, so its pin cannot be checked' : `server key sha256/${key} matches no pin`);
        }
      }
      if (lastFailure !== null) {
        lastFailure = null;
        settings.onEvent?.({ upstream: spec.label, kind: 'connected', code: null, message: `upstream: TLS connection to ${spec.label} works again` });
      }
      return stream;
    },
  };
}
