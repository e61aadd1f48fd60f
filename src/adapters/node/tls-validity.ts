// A certificate chain checked again by hand, for when the local clock is known to be wrong (#12):
// a router without a battery-backed clock boots with the time of its firmware build, and every
// certificate then looks not yet valid. OpenSSL can only check validity against the system
// clock, so the connection is made without its verdict and the chain is walked here: every
// signature up to a trusted root, the name, the purpose, and a validity period that is judged
// against the earliest the true time can be (the floor) rather than against the clock.
//
// A certificate is accepted only if it would be refused for its validity period alone: it must
// be outside its period by the clock (else the fault the TLS stack found is another one), and
// still valid at some moment from the floor on (one that ended before the floor is expired
// whatever the true time is).

import type { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import type { TlsModules } from './builtins.ts';

/** OpenSSL's codes for a validity fault (Node and Bun report them as authorizationError). */
const VALIDITY_ERRORS = new Set(['CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED', 'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED']);
/** RFC 5280 §4.2.1.12: id-kp-serverAuth. */
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const MAX_DEPTH = 8;

/** The trust anchors: the PEM given, else the runtime's bundled store. */
function anchorsOf({ tls, crypto }: TlsModules, caPem: string | undefined): X509Certificate[] {
  const pems = caPem ? (caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) : tls.rootCertificates;
  const out: X509Certificate[] = [];
  for (const pem of pems) {
    try {
      out.push(new crypto.X509Certificate(pem));
    } catch {
      // A certificate this runtime cannot parse cannot anchor anything.
    }
  }
  return out;
}

/** The certificates the peer sent, leaf first, each once. */
function presented({ crypto }: TlsModules, peer: tls.DetailedPeerCertificate): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  for (let c: tls.DetailedPeerCertificate | undefined = peer; c?.raw && out.length < MAX_DEPTH; c = c.issuerCertificate) {
    const key = c.raw.toString('base64');
    if (seen.has(key)) break;
    seen.add(key);
    out.push(new crypto.X509Certificate(c.raw));
  }
  return out;
}

const issuedBy = (c: X509Certificate, issuer: X509Certificate) => c.checkIssued(issuer) && c.verify(issuer.publicKey);
const rangeOf = (c: X509Certificate) => ({ fromMs: Date.parse(c.validFrom), toMs: Date.parse(c.validTo) });

/**
 * Why `socket`'s certificate was accepted despite its validity period ("not yet valid until
 * ..."); throws an Error naming the fault when it must be refused.
 */
export function acceptDespiteClock(modules: TlsModules, socket: tls.TLSSocket, serverName: string, caPem: string | undefined, floorMs: number, nowMs: number): string {
  const reported = String(socket.authorizationError ?? '');
  // Node and Bun name OpenSSL's fault; any other than validity stays fatal. Deno's node:tls
  // names none (always UNABLE_TO_VERIFY_LEAF_SIGNATURE), so there the walk below decides.
  if (reported !== '' && !VALIDITY_ERRORS.has(reported) && reported !== 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') throw new Error(reported);
  const peer = socket.getPeerCertificate(true);
  if (!peer?.raw) throw new Error('the server sent no certificate');
  const nameError = modules.tls.checkServerIdentity(serverName, peer);
  if (nameError) throw nameError;
  const chain = presented(modules, peer);
  const leaf = chain[0];
  // Node and Bun list the extended key usage OIDs; Deno's node:crypto lists the key usage
  // names instead (or nothing), which say nothing about the purpose: only OIDs are judged.
  const purposes = (Array.isArray(leaf.keyUsage) ? leaf.keyUsage : []).filter((p) => /^\d+(\.\d+)+$/.test(p));
  if (purposes.length > 0 && !purposes.includes(SERVER_AUTH)) throw new Error('the certificate is not for TLS servers');
  const anchors = anchorsOf(modules, caPem);
  // From the leaf up, each certificate signed by the next, ending at a trust anchor.
  const path: X509Certificate[] = [leaf];
  let trusted = false;
  for (let cur = leaf; path.length <= MAX_DEPTH; ) {
    if (anchors.some((a) => a.raw.equals(cur.raw))) {
      trusted = true;
      break;
    }
    const anchor = anchors.find((a) => issuedBy(cur, a));
    if (anchor) {
      path.push(anchor);
      trusted = true;
      break;
    }
    const next = chain.find((c) => c !== cur && c.ca && !path.includes(c) && issuedBy(cur, c));
    if (!next) break;
    path.push(next);
    cur = next;
  }
  if (!trusted) throw new Error(reported === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || reported === '' ? 'unable to verify the certificate chain' : reported);
  let outside: string | null = null;
  for (const c of path) {
    const { fromMs, toMs } = rangeOf(c);
    if (!(toMs >= floorMs)) throw new Error(`certificate has expired (${c.subject.replace(/\n/g, ', ')}: valid until ${c.validTo})`);
    if (outside === null && nowMs < fromMs) outside = `not yet valid by the clock (from ${c.validFrom})`;
    else if (outside === null && nowMs > toMs) outside = `expired by the clock (until ${c.validTo})`;
  }
  // Inside every period by the clock: the TLS stack refused it for something else.
  if (outside === null) throw new Error(reported || 'certificate refused');
  return outside;
}
