// Connections to a relay: through the TLS dialer for relay+https:// (verification, pins, the
// bootstrap, the proxy), or plain TCP for relay+http://, with the same bootstrap, deadline and
// proxy: a network that needs a proxy gets no connection around it, even in clear text.

import { ErrorCode, HoldfastError, isHoldfastError } from '../../core/errors.ts';
import type { ByteStream, CorePorts, StreamHandlers } from '../../core/ports.ts';
import { dialTarget, resolveTarget } from '../dial-target.ts';
import type { UpstreamSpec } from '../spec.ts';
import { createTlsDialer } from '../tls/dialer.ts';
import type { EncryptedTransportSettings } from '../transport.ts';

export interface RelayDialer {
  dial(handlers: StreamHandlers): Promise<ByteStream>;
}

export function createRelayDialer(spec: UpstreamSpec, settings: EncryptedTransportSettings, ports: CorePorts): RelayDialer {
  if (spec.tls) return createTlsDialer(spec, settings, ports, ['http/1.1']);
  const proxy = settings.proxy ?? null;
  const via = proxy ? ` through proxy ${proxy.label}` : '';
  const fail = (why: string, code: ErrorCode = ErrorCode.upstreamNetwork) => new HoldfastError(code, `upstream: connection to ${spec.label}${code === ErrorCode.upstreamProxy ? '' : via} failed (${why})`);
  // With a proxy, the TCP connection goes to it and it resolves the relay's name.
  const dialled = dialTarget(spec, proxy);

  return {
    async dial(handlers) {
      const to = await resolveTarget(dialled, settings.resolveHost, (why) => fail(why));
      const tunnel = dialled.tunnel();
      return new Promise<ByteStream>((resolve, reject) => {
        let settled = false;
        let stream: ByteStream | null = null;
        let open = tunnel === null;
        const end = (e: HoldfastError | null) => {
          if (settled) return;
          settled = true;
          ports.timers.clearTimeout(timer);
          if (e) {
            stream?.close();
            if (dialled.family === 0) settings.resolveHost?.forget(dialled.host);
            reject(e);
          } else resolve(stream!);
        };
        const timer = ports.timers.setTimeout(() => end(fail(`no connection${tunnel ? ' and tunnel' : ''} within ${settings.connectTimeoutMs} ms`)), settings.connectTimeoutMs);
        ports.net
          .connectTcp(to, dialled.port, {
            onData: (bytes) => {
              if (open) return handlers.onData(bytes);
              try {
                if (tunnel!.reply(bytes)) {
                  open = true;
                  end(null);
                }
              } catch (e) {
                end(isHoldfastError(e, ErrorCode.upstreamProxy) ? fail(e.message, ErrorCode.upstreamProxy) : fail(String(e)));
              }
            },
            onClose: () => {
              if (open && settled) handlers.onClose();
              else end(fail(proxy ? `proxy ${proxy.label} closed the connection before the tunnel was open` : 'closed while connecting'));
            },
          })
          .then(
            (s) => {
              stream = s;
              if (settled) return s.close();
              if (tunnel) s.write(tunnel.request);
              else end(null);
            },
            (e: unknown) => end(fail(e instanceof Error ? e.message : String(e))),
          );
      });
    },
  };
}
