// TLS client connections on Deno.startTls over a TCP connection, so the name verified can differ
// from the address dialled (Deno.connectTls verifies the address it dials), and so TLS can
// start inside an HTTP proxy's tunnel (whose bytes the core writes and judges). Deno's own TLS
// does not show the peer's certificate, so a pinned upstream goes through Deno's node:tls,
// which does: pinning is never skipped. So does every upstream while the clock is wrong (#12).

import type { StreamHandlers, TlsOptions, TlsStream, TlsTunnel } from '../../core/ports.ts';
import { connectTls as connectNodeTls } from '../node/tls.ts';
import { serve, wrap } from './tcp.ts';

const READ_BYTES = 16 * 1024;

/** Writes the CONNECT request and reads until the core says the tunnel is open (or throws). */
async function openTunnel(tcp: Deno.TcpConn, tunnel: TlsTunnel): Promise<void> {
  for (let sent = 0; sent < tunnel.request.length; ) sent += await tcp.write(tunnel.request.subarray(sent));
  const buf = new Uint8Array(READ_BYTES);
  for (;;) {
    const n = await tcp.read(buf);
    if (n === null) throw new Error('the proxy closed the connection before the tunnel was open');
    if (tunnel.reply(buf.slice(0, n))) return;
  }
}

function close(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

export async function connectTls(address: string, port: number, options: TlsOptions, handlers: StreamHandlers): Promise<TlsStream> {
  // Deno.startTls has no way to check a chain at another time than now (only the process-wide
  // --unsafely-ignore-certificate-errors, which drops every check): while the clock is wrong
  // (#12), Deno's node:tls, whose verdict can be set aside and the chain walked by hand, serves.
  if (options.peerKey || options.clockFloorMs !== undefined) return connectNodeTls(address, port, options, handlers);
  const tcp = await Deno.connect({ hostname: address, port, transport: 'tcp' });
  tcp.setNoDelay(true);
  let conn: Deno.TlsConn | null = null;
  // Closing the connection fails the read or handshake under way.
  const onAbort = () => close(conn ?? tcp);
  options.signal?.addEventListener('abort', onAbort);
  try {
    if (options.signal?.aborted) throw new Error('aborted');
    if (options.tunnel) await openTunnel(tcp, options.tunnel);
    if (options.signal?.aborted) throw new Error('aborted');
    conn = await Deno.startTls(tcp, {
      hostname: options.serverName,
      caCerts: options.caPem ? [options.caPem] : undefined,
      alpnProtocols: options.alpn ? [...options.alpn] : undefined,
    });
    // The handshake (and so verification) would otherwise wait for the first write.
    await conn.handshake();
  } catch (e) {
    close(conn ?? tcp);
    throw e;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  serve(conn, handlers);
  return { ...wrap(conn), peerKeySha256: null };
}
