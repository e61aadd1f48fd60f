// A throw-away certificate authority for TLS tests, made with openssl in a temporary folder:
// a CA, and server certificates it signed for a name (good), for another name (wrong name),
// and for the name but long expired, and some valid only from tomorrow (#12: a clock that is
// behind); each with its key and its SPKI pin (RFC 7469 §2.4).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ServerCert {
  /** Certificate and key files, PEM. */
  readonly cert: string;
  readonly key: string;
  /** Base64 SHA-256 of the key's SubjectPublicKeyInfo. */
  readonly pin: string;
}

export interface TestPki {
  readonly dir: string;
  /** The CA certificate file, PEM: what --ca-file is given. */
  readonly caFile: string;
  /** Valid for NAME and 127.0.0.1. */
  readonly good: ServerCert;
  /** Valid, but for other.test only. */
  readonly wrongName: ServerCert;
  /** For NAME, but its validity ended in 2020. */
  readonly expired: ServerCert;
  /** For NAME, valid only from a day from now to three days from now (#12: a clock behind). */
  readonly future: ServerCert;
  /** As `future`, but for other.test only. */
  readonly futureWrongName: ServerCert;
  /** As `future`, but signed by a CA nobody trusts. */
  readonly futureUntrusted: ServerCert;
  /** When the certificates were made, ms since the epoch. */
  readonly madeAtMs: number;
  remove(): void;
}

export const TEST_SERVER_NAME = 'dns.holdfast.test';

function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** `openssl ca`'s date format: YYYYMMDDHHMMSSZ. */
const caDate = (ms: number) => new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
const DAY_MS = 86_400_000;

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-pki-'));
  const madeAtMs = Date.now();
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const [ca, cn] of [['ca', 'Holdfast Test CA'], ['rogue', 'Untrusted Test CA']]) {
    openssl(
      ['req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '4', '-subj', `/CN=${cn}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
      dir,
    );
  }
  // `openssl ca` is the one signer in OpenSSL 3.0 that takes explicit start and end dates.
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    ['[ca]', 'default_ca = test', '[test]', `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir', 'serial = $dir/serial',
      'default_md = sha256', 'policy = any', 'unique_subject = no', '[any]', 'commonName = supplied', ''].join('\n'),
  );
  const issue = (name: string, sans: string, dates: string[], ca = 'ca'): ServerCert => {
    writeFileSync(join(dir, `${name}.ext`), [`subjectAltName = ${sans}`, 'basicConstraints = CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = serverAuth', ''].join('\n'));
    openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    openssl(['ca', '-batch', '-notext', '-config', 'ca.cnf', '-cert', `${ca}.pem`, '-keyfile', `${ca}.key`, '-in', `${name}.csr`, '-out', `${name}.pem`, '-extfile', `${name}.ext`, ...dates], dir);
    const der = execFileSync('openssl', ['pkey', '-in', join(dir, `${name}.key`), '-pubout', '-outform', 'DER']);
    const pin = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64');
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`), pin };
  };
  const future = ['-startdate', caDate(madeAtMs + DAY_MS), '-enddate', caDate(madeAtMs + 3 * DAY_MS)];
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    good: issue('good', `DNS:${TEST_SERVER_NAME},IP:127.0.0.1`, ['-days', '2']),
    wrongName: issue('wrong', 'DNS:other.test', ['-days', '2']),
    expired: issue('expired', `DNS:${TEST_SERVER_NAME},IP:127.0.0.1`, ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z']),
    future: issue('future', `DNS:${TEST_SERVER_NAME},IP:127.0.0.1`, future),
    futureWrongName: issue('future-wrong', 'DNS:other.test', future),
    futureUntrusted: issue('future-rogue', `DNS:${TEST_SERVER_NAME},IP:127.0.0.1`, future, 'rogue'),
    madeAtMs,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
