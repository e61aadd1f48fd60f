// TLS client connections on Deno.startTls over a TCP connection, so the name verified can differ
// from the address dialled (Deno.connectTls verifies the address it dials). Deno's own TLS
// does not show the peer's certificate, so a pinned upstream goes through Deno's node:tls,
// which does: pinning is never skipped.

import type { StreamHandlers, TlsOptions, TlsStream } from '../../core/ports.ts';
import { connectTls as connectNodeTls } from '../node/tls.ts';
import { serve, wrap } from './tcp.ts';

export async function connectTls(address: string, port: number, options: TlsOptions, handlers: StreamHandlers): Promise<TlsStream> {
  if (options.peerKey) return connectNodeTls(address, port, options, handlers);
  const tcp = await Deno.connect({ hostname: address, port, transport: 'tcp' });
  tcp.setNoDelay(true);
  let conn: Deno.TlsConn | null = null;
  try {
    conn = await Deno.startTls(tcp, {
      hostname: options.serverName,
      caCerts: options.caPem ? [options.caPem] : undefined,
      alpnProtocols: options.alpn ? [...options.alpn] : undefined,
    });
    // The handshake (and so verification) would otherwise wait for the first write.
    await conn.handshake();
  } catch (e) {
    try {
      (conn ?? tcp).close();
    } catch {
      // Already closed.
    }
    throw e;
  }
  serve(conn, handlers);
  return { ...wrap(conn), peerKeySha256: null };
}
