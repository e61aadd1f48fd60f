// TLS client connections on node:tls, verified against the system store or the given CAs,
// directly or inside an HTTP proxy's tunnel (whose bytes the core writes and judges).

import type net from 'node:net';
import type tls from 'node:tls';
import type { StreamHandlers, TlsOptions, TlsStream, TlsTunnel } from '../../core/ports.ts';
import { loadTls, type TlsModules } from './builtins.ts';
import { whenConnected, wrap } from './tcp.ts';
import { acceptDespiteClock } from './tls-validity.ts';

/** RFC 7469 §2.4: the pin is the SHA-256 of the DER SubjectPublicKeyInfo, in base64. */
function peerKeySha256({ crypto }: TlsModules, socket: tls.TLSSocket): string | null {
  const raw = socket.getPeerCertificate()?.raw;
  if (!raw) return null;
  // The certificate's `pubkey` is not the SPKI for every key type (a bare EC point for EC keys),
  // so the SPKI is exported from the parsed certificate.
  const spki = new crypto.X509Certificate(raw).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(spki).digest('base64');
}

/** A TCP connection to `address:port` on which `tunnel` has opened; its listeners removed again. */
function openTunnel({ net }: TlsModules, address: string, port: number, tunnel: TlsTunnel, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port, noDelay: true });
    const done = (e: Error | null) => {
      socket.off('data', onData);
      socket.off('error', done);
      socket.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (e === null) return resolve(socket);
      socket.destroy();
      reject(e);
    };
    const onData = (d: Buffer) => {
      let open: boolean;
      try {
        open = tunnel.reply(d);
      } catch (e) {
        return done(e as Error);
      }
      if (open) done(null);
    };
    const onClose = () => done(new Error('the proxy closed the connection before the tunnel was open'));
    const onAbort = () => done(new Error('aborted'));
    socket.on('data', onData);
    socket.on('error', done);
    socket.on('close', onClose);
    socket.once('connect', () => socket.write(tunnel.request));
    signal?.addEventListener('abort', onAbort);
  });
}

export async function connectTls(address: string, port: number, options: TlsOptions, handlers: StreamHandlers): Promise<TlsStream> {
  const modules = await loadTls();
  const { tls, net } = modules;
  const tunnel = options.tunnel ? await openTunnel(modules, address, port, options.tunnel, options.signal) : null;
  if (options.signal?.aborted) {
    tunnel?.destroy();
    throw new Error('aborted');
  }
  const lenient = options.clockFloorMs;
  const socket = tls.connect({
    ...(tunnel ? { socket: tunnel } : { host: address, port }),
    // RFC 6066 §3: SNI carries host names only.
    servername: net.isIP(options.serverName) ? undefined : options.serverName,
    ca: options.caPem,
    ALPNProtocols: options.alpn ? [...options.alpn] : undefined,
    // The name to verify is the configured one, never the address we happened to dial.
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(options.serverName, cert),
    // With the clock known to be wrong, OpenSSL's verdict is taken below instead (#12).
    rejectUnauthorized: lenient === undefined,
  });
  socket.setNoDelay(true);
  const onAbort = () => socket.destroy(new Error('aborted'));
  options.signal?.addEventListener('abort', onAbort);
  const ready = whenConnected(socket, 'secureConnect', handlers, (s) => {
    // Throws, failing the attempt, for any fault but the validity period.
    const validityIgnored = lenient !== undefined && !s.authorized ? acceptDespiteClock(modules, s, options.serverName, options.caPem, lenient, Date.now()) : null;
    let key: string | null = null;
    try {
      key = options.peerKey ? peerKeySha256(modules, s) : null;
    } catch {
      // An unreadable key is reported as unknown; a pinned upstream then refuses it.
    }
    return { peerKeySha256: key, validityIgnored, ...wrap(s) };
  });
  return ready.finally(() => options.signal?.removeEventListener('abort', onAbort));
}
