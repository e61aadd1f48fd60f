// Connections to a relay: through the TLS dialer for relay+https:// (verification, pins, the
// bootstrap), or plain TCP for relay+http://, with the same bootstrap and connect deadline.

import { ErrorCode, HoldfastError } from '../../../core/errors.ts';
import type { ByteStream, CorePorts, StreamHandlers } from '../../../core/ports.ts';
import type { UpstreamSpec } from '../spec.ts';
import { createTlsDialer } from '../tls-dialer.ts';
import type { EncryptedTransportSettings } from '../transport.ts';

export interface RelayDialer {
  dial(handlers: StreamHandlers): Promise<ByteStream>;
}

export function createRelayDialer(spec: UpstreamSpec, settings: EncryptedTransportSettings, ports: CorePorts): RelayDialer {
  if (spec.tls) return createTlsDialer(spec, settings, ports, ['http/1.1']);
  const fail = (why: string) => new HoldfastError(ErrorCode.upstreamNetwork, `upstream: connection to ${spec.label} failed (${why})`);
  return {
    async dial(handlers) {
      let address = spec.address;
      if (spec.family === 0) {
        if (!settings.resolveHost) throw fail(`"${spec.address}" is a host name and no bootstrap upstream is set`);
        try {
          address = await settings.resolveHost.resolve(spec.address);
        } catch (e) {
          throw fail(`could not resolve "${spec.address}": ${(e as Error).message}`);
        }
      }
      return new Promise<ByteStream>((resolve, reject) => {
        let done = false;
        const timer = ports.timers.setTimeout(() => {
          done = true;
          reject(fail(`no connection within ${settings.connectTimeoutMs} ms`));
        }, settings.connectTimeoutMs);
        ports.net.connectTcp(address, spec.port, handlers).then(
          (stream) => {
            ports.timers.clearTimeout(timer);
            if (done) stream.close();
            else resolve(stream);
          },
          (e: unknown) => {
            ports.timers.clearTimeout(timer);
            if (done) return;
            if (spec.family === 0) settings.resolveHost?.forget(spec.address);
            reject(fail(e instanceof Error ? e.message : String(e)));
          },
        );
      });
    },
  };
}
