// The servers under test and their upstream, each started on a free loopback port and ready
// once it answers a query. NSD is the shared upstream; Holdfast (Bun binary, Node bundle) and
// dnsmasq forward to it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startProcess, waitAnswering } from './procs.mjs';

const ATTEMPTS = 5;

/** Starts `argvFor(port)` until one attempt answers `probeName` (a port may be taken meanwhile). */
async function launch(name, argvFor, probeName, { cpu, fixedPort } = {}) {
  let last = '';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = fixedPort ?? (await freePort());
    const proc = startProcess(name, argvFor(port), { cpu });
    if (await waitAnswering(proc, port, probeName)) return Object.assign(proc, { port });
    await proc.stop(1000);
    const ended = await proc.exited;
    last = ended.error ? String(ended.error.message) : proc.output();
  }
  throw new Error(`bench: ${name} did not start answering on 127.0.0.1 (last output: ${last.trim().slice(-800) || 'none'})`);
}

/** The zone every server ends up serving: a wildcard, so any name under it exists (NOERROR, one A). */
export function zoneText(zone, ttlSeconds) {
  return [
    `$ORIGIN ${zone}.`,
    `$TTL ${ttlSeconds}`,
    `@ IN SOA ns1 hostmaster 1 3600 600 86400 ${ttlSeconds}`,
    '@ IN NS ns1',
    'ns1 IN A 127.0.0.1',
    '* IN A 192.0.2.1',
    '',
  ].join('\n');
}

/** unbound.conf lines for a bench's own unbound: one thread, in the foreground, IPv4, files in `dir`, no privilege drop. */
export function unboundProcessLines(dir) {
  return [
    '  do-ip6: no',
    '  do-daemonize: no',
    '  username: ""',
    '  chroot: ""',
    `  directory: "${dir}"`,
    '  pidfile: ""',
    '  use-syslog: no',
    '  logfile: ""',
    '  verbosity: 1',
    '  num-threads: 1',
  ];
}

/** nsd.conf for one server process in `dir` on `address`@`port`, serving `zone` from `dir`/`zone`.zone. */
/** NSD's configuration for zones served from `dir` (each NAME.zone), as the benches and tests use it. */
export function nsdConf({ dir, address = '127.0.0.1', port, zones }) {
  return [
    'server:',
    `  ip-address: ${address}@${port}`,
    '  username: ""',
    '  chroot: ""',
    `  zonesdir: "${dir}"`,
    `  pidfile: "${dir}/nsd.pid"`,
    '  database: ""',
    `  zonelistfile: "${dir}/zone.list"`,
    `  xfrdfile: "${dir}/xfrd.state"`,
    `  xfrdir: "${dir}"`,
    `  logfile: "${dir}/nsd.log"`,
    '  server-count: 1',
    '  verbosity: 1',
    // Response rate limiting off: under load it looks like packet loss.
    '  rrl-ratelimit: 0',
    '  rrl-whitelist-ratelimit: 0',
    'remote-control:',
    '  control-enable: no',
    ...zones.flatMap((z) => ['zone:', `  name: ${z}`, `  zonefile: ${z}.zone`]),
    '',
  ].join('\n');
}

/** NSD on loopback, one server process. */
export function startNsd({ dir, zone, ttlSeconds, cpu }) {
  const d = join(dir, 'nsd');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, `${zone}.zone`), zoneText(zone, ttlSeconds));
  return launch(
    'nsd',
    (port) => {
      const conf = join(d, 'nsd.conf');
      writeFileSync(conf, nsdConf({ dir: d, port, zones: [zone] }));
      return ['nsd', '-d', '-c', conf];
    },
    `ns1.${zone}`,
    { cpu },
  );
}

/**
 * The servers compared, by key. `argv(port, upstreamPort, cacheSize, cacheMemory)` is the whole
 * command; cacheMemory (Holdfast's --cache-memory) means nothing to dnsmasq. Holdfast's kinds
 * also give `command`, what comes before `serve`, for stages that build their own flags.
 */
export function serverKinds({ bunBinary, nodeBundle, baseBinary, extraNodeFlags = [] }) {
  const holdfast = (cmd) => (port, upstreamPort, cacheSize, cacheMemory) => [
    ...cmd,
    'serve',
    '--listen',
    `127.0.0.1:${port}`,
    '--upstream',
    `udp://127.0.0.1:${upstreamPort}`,
    '--cache-size',
    String(cacheSize),
    '--cache-memory',
    cacheMemory,
    '--log-format',
    'json',
    '--log-level',
    'warn',
  ];
  return {
    bun: { label: 'holdfast (bun)', command: [bunBinary], argv: holdfast([bunBinary]) },
    ...(baseBinary ? { base: { label: 'holdfast (base)', command: [baseBinary], argv: holdfast([baseBinary]) } } : {}),
    node: { label: 'holdfast (node)', command: [process.execPath, ...extraNodeFlags, nodeBundle], argv: holdfast([process.execPath, ...extraNodeFlags, nodeBundle]) },
    dnsmasq: {
      label: 'dnsmasq',
      argv: (port, upstreamPort, cacheSize) => [
        'dnsmasq',
        '--keep-in-foreground',
        '--conf-file=/dev/null', // not the machine's /etc/dnsmasq.conf
        '--no-resolv',
        '--no-hosts',
        '--no-poll',
        `--server=127.0.0.1#${upstreamPort}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        `--port=${port}`,
        `--cache-size=${cacheSize}`,
        '--pid-file=', // none
        '--log-facility=-', // stderr, where the bench reads "started, ... cachesize N"
      ],
    },
  };
}

/** Starts one server under test, pinned to `cpu`. */
export function startServer(kind, { port, upstreamPort, cacheSize, cacheMemory, cpu, zone }) {
  return launch(kind.label, (p) => kind.argv(p, upstreamPort, cacheSize, cacheMemory), `probe.${zone}`, { cpu, fixedPort: port });
}
