// A throw-away certificate authority for the encrypted stage, made with openssl in a folder the
// caller removes: a CA and one server certificate it signed, valid for a name and 127.0.0.1.
// P-256 keys, as the tests' (test/helpers/tls-certs.ts) and as most public DoT/DoH servers use.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const openssl = (args, cwd) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

/** Writes ca.pem, server.pem and server.key into `dir`; returns their paths and the name. */
export function createPki(dir, serverName) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Holdfast Bench CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  writeFileSync(
    join(dir, 'server.ext'),
    [`subjectAltName = DNS:${serverName},IP:127.0.0.1`, 'basicConstraints = CA:FALSE', 'keyUsage = critical,digitalSignature',
      'extendedKeyUsage = serverAuth', ''].join('\n'),
  );
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${serverName}`], dir);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
    '-extfile', 'server.ext', '-out', 'server.pem'], dir);
  return { caFile: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), serverName };
}
