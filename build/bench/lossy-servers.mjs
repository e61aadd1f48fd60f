// The servers of `npm run bench:lossy`: NSD and the delay relay on the upstream's side of the
// lossy link, and the three caching forwarders on Holdfast's side, each configured as well as it
// can be for a lossy uplink (docs/benchmarks.md says why each option is there).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeInNs, startDelayRelay, startTracked } from './netns.mjs';
import { nsdConf, unboundProcessLines } from './servers.mjs';

/** Ports inside the namespaces: fresh namespaces have every port free. */
export const PORTS = { nsd: 5300, holdfast: 5301, dnsmasq: 5302, unbound: 5303, dnsmasqPlain: 5304, holdfastViaRelay: 5305, holdfastBaseline: 5306, relay: 8053 };
const READY_LIMIT_MS = 15_000;

/** Starts `argv` inside `ns` and waits until it answers `probeName` on 127.0.0.1:`port` there. */
async function startAnswering(link, ns, what, argv, port, probeName) {
  const proc = await startTracked(link.inNs(ns, argv), { what });
  if (await probeInNs(link, ns, `127.0.0.1:${port}`, probeName, READY_LIMIT_MS)) return Object.assign(proc, { port });
  await proc.stop(1000);
  throw new Error(`bench: ${what} did not answer on 127.0.0.1:${port} within ${READY_LIMIT_MS} ms (output: ${proc.output().trim().slice(-600) || 'none'})`);
}

/**
 * NSD serving `zoneText` on 127.0.0.1 in the upstream's namespace, and the relay that puts
 * `delayMs` each way between it and the link. Resolves with both; the caller stops them.
 */
export async function startUpstream(link, { dir, zone, zoneText, delayMs, statsFile }) {
  const d = join(dir, 'nsd');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, `${zone}.zone`), zoneText);
  const conf = join(d, 'nsd.conf');
  writeFileSync(conf, nsdConf({ dir: d, port: PORTS.nsd, zones: [zone] }));
  const nsd = await startAnswering(link, link.upstreamNs, 'nsd', ['nsd', '-d', '-c', conf], PORTS.nsd, `ns1.${zone}`);
  try {
    // One port per server, so the packets each sends can be counted apart.
    const ports = [...new Set(Object.values(LOSSY_SERVERS).map((s) => s.upstreamPort).filter((p) => p !== PORTS.relay))];
    const relay = await startDelayRelay(link, { ports, target: `127.0.0.1:${PORTS.nsd}`, delayMs, statsFile });
    return { nsd, relay };
  } catch (e) {
    await nsd.stop();
    throw e;
  }
}

/** unbound.conf: forwards `zone` to the upstream, serve-expired as RFC 8767 describes it. */
function unboundConf({ dir, port, zone, upstreamAddress, cacheSize }) {
  return [
    'server:',
    `  interface: 127.0.0.1@${port}`,
    ...unboundProcessLines(dir),
    // A forwarder like the others: no DNSSEC validation (the zone is unsigned), no iteration.
    '  module-config: "iterator"',
    '  qname-minimisation: no',
    // unbound answers names under test. itself (RFC 6761 special-use) unless told not to.
    `  local-zone: "${zone.split('.').pop()}." nodefault`,
    '  access-control: 127.0.0.0/8 allow',
    `  msg-cache-size: ${Math.max(4, Math.ceil(cacheSize / 1000))}m`,
    `  rrset-cache-size: ${Math.max(8, Math.ceil(cacheSize / 500))}m`,
    // Refresh popular names shortly before they expire (in their last 10% of TTL).
    '  prefetch: yes',
    // RFC 8767: answer from expired data for a day when the upstream fails, after trying it for
    // 1.8 s first (the RFC's client-response timer), with TTL 30.
    '  serve-expired: yes',
    '  serve-expired-ttl: 86400',
    '  serve-expired-reply-ttl: 30',
    '  serve-expired-client-timeout: 1800',
    // Keep probing an upstream it has marked down, so it notices when the link is back.
    '  infra-keep-probing: yes',
    '  ratelimit: 0',
    '  ip-ratelimit: 0',
    '  unwanted-reply-threshold: 0',
    'remote-control:',
    '  control-enable: no',
    'forward-zone:',
    `  name: "${zone}"`,
    `  forward-addr: ${upstreamAddress.replace(':', '@')}`,
    '',
  ].join('\n');
}

function startDnsmasq(link, c, { port, fastRetry }) {
  const argv = [
    'dnsmasq',
    '--keep-in-foreground',
    '--conf-file=/dev/null', // not the machine's /etc/dnsmasq.conf
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    `--server=${c.upstreamAddress.replace(':', '#')}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    `--port=${port}`,
    `--cache-size=${c.cacheSize}`,
    '--dns-forward-max=1000',
    // Answer expired names at once and refresh them behind (at most a day past expiry).
    '--use-stale-cache',
    // dnsmasq leaves retries to its clients unless told otherwise; a stub that sends once would
    // get no retry at all. Retry after 250 ms (about three round trips), backing off, for 4.5 s:
    // within the client's 5 s.
    ...(fastRetry ? ['--fast-dns-retry=250,4500'] : []),
    '--pid-file=', // none
    '--log-facility=-',
  ];
  return startAnswering(link, link.hostNs, 'dnsmasq', argv, port, `ns1.${c.zone}`);
}

/** `holdfast serve` on 127.0.0.1:`port` forwarding to `upstream`, every other setting its default. */
function holdfastServe(c, port, upstream) {
  return [...c.holdfastCommand, 'serve', '--listen', `127.0.0.1:${port}`, '--upstream', upstream, '--cache-size', String(c.cacheSize), '--log-format', 'json', '--log-level', 'warn'];
}

/**
 * The servers compared, by key: label, the port of the upstream (the delay relay) it asks (its
 * own, so its packets can be counted), and a start(link, ctx) that resolves once the server
 * answers in Holdfast's namespace; `optional` ones run only when --only names them.
 * ctx: { dir, zone, upstreamAddress (ADDR:its upstreamPort), cacheSize, holdfastCommand, baselineCommand }.
 */
export const LOSSY_SERVERS = {
  holdfast: {
    label: 'holdfast',
    upstreamPort: 53,
    start: (link, c) => startAnswering(link, link.hostNs, 'holdfast', holdfastServe(c, PORTS.holdfast, `udp://${c.upstreamAddress}`), PORTS.holdfast, `ns1.${c.zone}`),
  },
  dnsmasq: {
    label: 'dnsmasq',
    upstreamPort: 54,
    start: (link, c) => startDnsmasq(link, c, { port: PORTS.dnsmasq, fastRetry: true }),
  },
  unbound: {
    label: 'unbound',
    upstreamPort: 55,
    start(link, c) {
      const d = join(c.dir, 'unbound');
      mkdirSync(d, { recursive: true });
      const conf = join(d, 'unbound.conf');
      writeFileSync(conf, unboundConf({ dir: d, port: PORTS.unbound, zone: c.zone, upstreamAddress: c.upstreamAddress, cacheSize: c.cacheSize }));
      return startAnswering(link, link.hostNs, 'unbound', ['unbound', '-d', '-p', '-c', conf], PORTS.unbound, `ns1.${c.zone}`);
    },
  },
  // Not measured unless asked for (--only): Holdfast asking `holdfast relay`, which sits beside
  // NSD on the far side of the link, in batches over HTTP/1.1 (relay+http://): the link's loss
  // and delay then fall on TCP connections, which recover by retransmission, not on datagrams.
  'holdfast-relay': {
    label: 'holdfast via relay',
    optional: true,
    upstreamPort: PORTS.relay,
    async start(link, c) {
      const relay = await startTracked(
        link.inNs(link.upstreamNs, [...c.holdfastCommand, 'relay', '--listen', `127.0.0.1:${PORTS.relay}`, '--upstream', `udp://127.0.0.1:${PORTS.nsd}`, '--log-level', 'warn']),
        { what: 'holdfast relay' },
      );
      let delay = null;
      try {
        // The same delay each way as the DNS path, on the relay's port.
        delay = await startDelayRelay(link, { port: PORTS.relay, target: `127.0.0.1:${PORTS.relay}`, delayMs: c.delayMs });
        const argv = holdfastServe(c, PORTS.holdfastViaRelay, `relay+http://${link.upstreamAddress}:${PORTS.relay}`);
        const hf = await startAnswering(link, link.hostNs, 'holdfast via relay', argv, PORTS.holdfastViaRelay, `ns1.${c.zone}`);
        const stop = hf.stop;
        return Object.assign(hf, {
          async stop(graceMs) {
            await stop(graceMs);
            await delay.stop();
            await relay.stop();
          },
        });
      } catch (e) {
        await delay?.stop();
        await relay.stop();
        throw e;
      }
    },
  },
  // Not measured unless asked for (--only): dnsmasq as most installations run it, leaving
  // retries to clients. A client that sends once gets no retry at all.
  'dnsmasq-plain': {
    label: 'dnsmasq (no fast-dns-retry)',
    optional: true,
    upstreamPort: 56,
    start: (link, c) => startDnsmasq(link, c, { port: PORTS.dnsmasqPlain, fastRetry: false }),
  },
  // Added by --baseline PATH: another Holdfast executable (say, the last commit's), measured in
  // the same run so that a change is compared on the same machine at the same moment.
  'holdfast-baseline': {
    label: 'holdfast (baseline)',
    optional: true,
    upstreamPort: 57,
    start: (link, c) =>
      startAnswering(
        link,
        link.hostNs,
        'holdfast (baseline)',
        holdfastServe({ ...c, holdfastCommand: c.baselineCommand }, PORTS.holdfastBaseline, `udp://${c.upstreamAddress}`),
        PORTS.holdfastBaseline,
        `ns1.${c.zone}`,
      ),
  },
};
