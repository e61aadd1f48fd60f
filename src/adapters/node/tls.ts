// TLS client connections on node:tls, verified against the system store or the given CAs.

import { createHash, X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { StreamHandlers, TlsOptions, TlsStream } from '../../core/ports.ts';
import { whenConnected, wrap } from './tcp.ts';

/** RFC 7469 §2.4: the pin is the SHA-256 of the DER SubjectPublicKeyInfo, in base64. */
function peerKeySha256(socket: tls.TLSSocket): string | null {
  const raw = socket.getPeerCertificate()?.raw;
  if (!raw) return null;
  // The certificate's `pubkey` is not the SPKI for every key type (a bare EC point for EC keys),
  // so the SPKI is exported from the parsed certificate.
  const spki = new X509Certificate(raw).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

export function connectTls(address: string, port: number, options: TlsOptions, handlers: StreamHandlers): Promise<TlsStream> {
  const socket = tls.connect({
    host: address,
    port,
    // RFC 6066 §3: SNI carries host names only.
    servername: net.isIP(options.serverName) ? undefined : options.serverName,
    ca: options.caPem,
    ALPNProtocols: options.alpn ? [...options.alpn] : undefined,
    // The name to verify is the configured one, never the address we happened to dial.
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(options.serverName, cert),
    rejectUnauthorized: true,
  });
  socket.setNoDelay(true);
  return whenConnected(socket, 'secureConnect', handlers, (s) => {
    let key: string | null = null;
    try {
      key = options.peerKey ? peerKeySha256(s) : null;
    } catch {
      // An unreadable key is reported as unknown; a pinned upstream then refuses it.
    }
    return { peerKeySha256: key, ...wrap(s) };
  });
}
