// The upstreams of the encrypted stage, each listening on loopback both in plain UDP and
// encrypted, so Holdfast's plain and encrypted rows go to the same server process:
//   unbound: DNS over TLS (RFC 7858) and UDP, serving the bench's wildcard zone itself (an
//            auth-zone read from the same zone file as NSD's), so a name costs it no lookup;
//   dnsdist: DNS over HTTPS (RFC 8484, HTTP/1.1 through its h2o) and UDP, relaying every query
//            to the bench's NSD without a packet cache: a proxy, which is what dnsdist is.
// Both are single processes pinned to `cpu`, stopped by the bench by PID.
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { unboundProcessLines, zoneText } from './servers.mjs';
import { freePort, startProcess, waitAnswering } from './procs.mjs';

const ATTEMPTS = 5;

/** Does something accept TCP connections on this loopback port now? */
export function accepting(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Starts `argvFor(udpPort, tlsPort)` until it answers `probeName` over UDP and accepts TCP on tlsPort. */
async function launch(name, argvFor, probeName, cpu) {
  let last = '';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const udpPort = await freePort();
    let tlsPort = await freePort();
    if (tlsPort === udpPort) tlsPort = await freePort();
    const proc = startProcess(name, argvFor(udpPort, tlsPort), { cpu });
    if ((await waitAnswering(proc, udpPort, probeName)) && (await accepting(tlsPort))) return Object.assign(proc, { port: udpPort, udpPort, tlsPort });
    await proc.stop(1000);
    const ended = await proc.exited;
    last = ended.error ? String(ended.error.message) : proc.output();
  }
  throw new Error(`bench: ${name} did not start on 127.0.0.1 (last output: ${last.trim().slice(-800) || 'none'})`);
}

/** unbound.conf: UDP on udpPort, TLS on tlsPort, `zone` served from `zoneFile`. */
export function unboundConf({ dir, udpPort, tlsPort, pki, zone, zoneFile }) {
  return [
    'server:',
    `  interface: 127.0.0.1@${udpPort}`,
    `  interface: 127.0.0.1@${tlsPort}`,
    // Only the interface with this port number speaks TLS (unbound.conf(5), tls-port).
    `  tls-port: ${tlsPort}`,
    `  tls-service-key: "${pki.key}"`,
    `  tls-service-pem: "${pki.cert}"`,
    ...unboundProcessLines(dir),
    // Room for every per-query connection of the client at once, and then some.
    '  incoming-num-tcp: 256',
    '  access-control: 127.0.0.0/8 allow',
    '  module-config: "iterator"',
    // unbound answers names under test. itself (RFC 6761 special-use) unless told not to.
    `  local-zone: "${zone.split('.').pop()}." nodefault`,
    '  ratelimit: 0',
    '  ip-ratelimit: 0',
    'remote-control:',
    '  control-enable: no',
    'auth-zone:',
    `  name: "${zone}"`,
    `  zonefile: "${zoneFile}"`,
    '  for-downstream: yes',
    '  for-upstream: no',
    '  fallback-enabled: no',
    '',
  ].join('\n');
}

export function startUnbound({ dir, pki, zone, ttlSeconds, cpu }) {
  const d = join(dir, 'unbound');
  mkdirSync(d, { recursive: true });
  const zoneFile = join(d, `${zone}.zone`);
  writeFileSync(zoneFile, zoneText(zone, ttlSeconds));
  return launch(
    'unbound',
    (udpPort, tlsPort) => {
      const conf = join(d, 'unbound.conf');
      writeFileSync(conf, unboundConf({ dir: d, udpPort, tlsPort, pki, zone, zoneFile }));
      return ['unbound', '-d', '-p', '-c', conf];
    },
    `ns1.${zone}`,
    cpu,
  );
}

/** dnsdist.conf: UDP (and TCP) on udpPort, DoH on tlsPort at `path`, every query to NSD. */
export function dnsdistConf({ udpPort, tlsPort, pki, path, nsdPort, zone }) {
  return [
    // No security polling: the bench never leaves loopback.
    'setSecurityPollSuffix("")',
    `setLocal("127.0.0.1:${udpPort}")`,
    // Its health check asks a name NSD serves, not the default a.root-servers.net.
    `newServer({address="127.0.0.1:${nsdPort}", checkName="ns1.${zone}."})`,
    `addDOHLocal("127.0.0.1:${tlsPort}", "${pki.cert}", "${pki.key}", "${path}")`,
    '',
  ].join('\n');
}

export function startDnsdist({ dir, pki, path, nsdPort, zone, cpu }) {
  const d = join(dir, 'dnsdist');
  mkdirSync(d, { recursive: true });
  return launch(
    'dnsdist',
    (udpPort, tlsPort) => {
      const conf = join(d, 'dnsdist.conf');
      writeFileSync(conf, dnsdistConf({ udpPort, tlsPort, pki, path, nsdPort, zone }));
      return ['dnsdist', '--supervised', '--disable-syslog', '-C', conf];
    },
    `ns1.${zone}`,
    cpu,
  );
}
