// A two-host network for the lossy-link tests and bench: Holdfast's side and the upstream's
// side, each its own network namespace, joined by one veth pair. Nothing in either namespace can
// reach another network, so every packet stays inside what we made.
//
// Loss: nftables drops packets at the RECEIVING end's ingress hook (family netdev). A drop on the
// sender's output path would make sendto() fail with EPERM, which real loss never does. Delay is
// not done here (this kernel has no netem): delay-relay.mjs adds it in the upstream namespace.
//
// Both ends get permanent neighbour entries, so ARP never crosses the link: loss and outages hit
// the IP packets only, as on a lossy uplink whose link layer stays up.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Addresses on the link, from the RFC 2544 benchmarking range; they exist only in our namespaces. */
export const HOST_ADDRESS = '198.18.0.1';
export const UPSTREAM_ADDRESS = '198.18.0.2';
const PREFIX_LENGTH = 30;
/** Device names inside each namespace (they never exist in the root namespace, so no clash). */
const HOST_DEVICE = 'hfl0';
const UPSTREAM_DEVICE = 'hfl1';
/** nftables table (family netdev) created in each namespace; namespaces are private, one name will do. */
const TABLE = 'hfl';
/** nftables table (family inet) counting what Holdfast's side sends to the upstream. */
const COUNT_TABLE = 'hflcount';
const COMMAND_TIMEOUT_MS = 10_000;

/** Why a lossy link cannot be made here, or null when it can: root, `ip` and `nft` are needed. */
export function lossyLinkUnavailable() {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (network namespaces and nftables)';
  for (const [cmd, args, pkg] of [
    ['ip', ['-V'], 'iproute2'],
    ['nft', ['--version'], 'nftables'],
  ]) {
    const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: COMMAND_TIMEOUT_MS });
    if (r.error) return `needs ${cmd} (apt-get install ${pkg})`;
  }
  return null;
}

function run(argv, input) {
  try {
    return execFileSync(argv[0], argv.slice(1), { input, encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const detail = String(e.stderr || e.message).trim();
    throw new Error(`netns: \`${argv.join(' ')}\` failed (${detail})`);
  }
}

/** The nftables rule dropping `percent` of what arrives; none at 0. */
function lossRule(percent) {
  if (percent <= 0) return '';
  if (percent >= 100) return `add rule netdev ${TABLE} ingress drop\n`;
  return `add rule netdev ${TABLE} ingress numgen random mod 100 < ${percent} drop\n`;
}

function checkPercent(key, v) {
  if (!Number.isInteger(v) || v < 0 || v > 100) throw new Error(`netns: ${key} must be a whole percentage from 0 to 100 (got ${v})`);
}

let made = 0;
/** Links not yet destroyed and processes not yet seen to exit: cleaned up on exit if their owner forgot or failed. */
const live = new Set();
const liveProcesses = new Set();
let exitHookInstalled = false;

/** Keeps `child` on the list the exit hook kills, until it exits. */
function track(child) {
  if (child.pid === undefined) return;
  liveProcesses.add(child.pid);
  child.once('exit', () => liveProcesses.delete(child.pid));
  cleanUpOnExit();
}

function cleanUpOnExit() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    // No awaiting in an exit handler: SIGKILL our processes by PID, then delete our namespaces.
    for (const pid of liveProcesses) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    for (const l of [...live]) l.destroy();
  });
}

/**
 * @typedef {object} LossyLink
 * @property {string} hostNs     Holdfast's side (clients and the servers under test run here)
 * @property {string} upstreamNs the upstream's side (NSD and the delay relay run here)
 * @property {string} hostAddress
 * @property {string} upstreamAddress
 * @property {string} hostDevice      the link's device in hostNs (to renumber it, say)
 * @property {string} upstreamDevice  the link's device in upstreamNs
 * @property {(loss: { toUpstream?: number, toHost?: number }) => void} setLoss
 *   percentages of packets dropped in each direction; an omitted direction keeps its loss
 * @property {() => { toUpstream: number, toHost: number }} loss
 * @property {(ns: string, argv: readonly string[]) => string[]} inNs
 *   argv that runs `argv` inside namespace `ns` (`ip netns exec` execs, so the PID is argv's)
 * @property {(ports: readonly number[]) => void} countSent
 *   counts, in Holdfast's namespace, the packets (UDP and TCP) sent to each of `ports` on the
 *   upstream's address: what a server sends, before the link loses any of it
 * @property {() => Record<number, number>} sentPackets  the counts so far, by port
 * @property {() => void} destroy  deletes both namespaces (and so the link); safe to call twice
 */

/**
 * Creates the two namespaces and the link between them, with no loss. Names carry this
 * process's PID and a counter (`hfl-PID-N-h`, `hfl-PID-N-u`), so parallel runs don't collide.
 * On any failure what was made is removed before the error is thrown.
 * @param {{ tag?: string }} [opts]
 * @returns {LossyLink}
 */
export function createLossyLink({ tag = 'hfl' } = {}) {
  const base = `${tag}-${process.pid}-${made++}`;
  const hostNs = `${base}-h`;
  const upstreamNs = `${base}-u`;
  const created = [];
  let destroyed = false;
  const current = { toUpstream: 0, toHost: 0 };

  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    live.delete(link);
    // Deleting a namespace deletes the veth end in it, and so the pair.
    for (const ns of created) spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore', timeout: COMMAND_TIMEOUT_MS });
  };

  const link = {
    hostNs,
    upstreamNs,
    hostAddress: HOST_ADDRESS,
    upstreamAddress: UPSTREAM_ADDRESS,
    hostDevice: HOST_DEVICE,
    upstreamDevice: UPSTREAM_DEVICE,
    inNs: (ns, argv) => ['ip', 'netns', 'exec', ns, ...argv],
    loss: () => ({ ...current }),
    setLoss({ toUpstream, toHost }) {
      if (toUpstream !== undefined) {
        checkPercent('toUpstream', toUpstream);
        // Queries towards the upstream are dropped as they arrive on the upstream's side.
        run(['ip', 'netns', 'exec', upstreamNs, 'nft', '-f', '-'], `flush chain netdev ${TABLE} ingress\n${lossRule(toUpstream)}`);
        current.toUpstream = toUpstream;
      }
      if (toHost !== undefined) {
        checkPercent('toHost', toHost);
        run(['ip', 'netns', 'exec', hostNs, 'nft', '-f', '-'], `flush chain netdev ${TABLE} ingress\n${lossRule(toHost)}`);
        current.toHost = toHost;
      }
    },
    countSent(ports) {
      const rules = ports.map((p) => `add rule inet ${COUNT_TABLE} out ip daddr ${UPSTREAM_ADDRESS} th dport ${p} counter comment "p${p}"`);
      run(['ip', 'netns', 'exec', hostNs, 'nft', '-f', '-'], [`add table inet ${COUNT_TABLE}`, `add chain inet ${COUNT_TABLE} out { type filter hook output priority 0; policy accept; }`, ...rules, ''].join('\n'));
    },
    sentPackets() {
      const listed = JSON.parse(run(['ip', 'netns', 'exec', hostNs, 'nft', '-j', 'list', 'chain', 'inet', COUNT_TABLE, 'out']));
      const counts = {};
      for (const item of listed.nftables) {
        const rule = item.rule;
        if (!rule?.comment?.startsWith('p')) continue;
        const counter = rule.expr.find((e) => e.counter)?.counter;
        counts[Number(rule.comment.slice(1))] = counter?.packets ?? 0;
      }
      return counts;
    },
    destroy,
  };

  try {
    for (const ns of [hostNs, upstreamNs]) {
      run(['ip', 'netns', 'add', ns]);
      created.push(ns);
    }
    live.add(link);
    cleanUpOnExit();
    // Made straight inside the namespaces, so the root namespace never sees the devices.
    run(['ip', 'link', 'add', HOST_DEVICE, 'netns', hostNs, 'type', 'veth', 'peer', 'name', UPSTREAM_DEVICE, 'netns', upstreamNs]);
    const ends = [
      [hostNs, HOST_DEVICE, HOST_ADDRESS],
      [upstreamNs, UPSTREAM_DEVICE, UPSTREAM_ADDRESS],
    ];
    for (const [ns, dev, address] of ends) {
      run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      run(['ip', '-n', ns, 'addr', 'add', `${address}/${PREFIX_LENGTH}`, 'dev', dev]);
      run(['ip', '-n', ns, 'link', 'set', dev, 'up']);
      run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], [
        `table netdev ${TABLE} {`,
        '  chain ingress {',
        `    type filter hook ingress device "${dev}" priority 0; policy accept;`,
        '  }',
        '}',
        '',
      ].join('\n'));
    }
    const mac = (ns, dev) => JSON.parse(run(['ip', '-n', ns, '-j', 'link', 'show', dev]))[0].address;
    run(['ip', '-n', hostNs, 'neigh', 'replace', UPSTREAM_ADDRESS, 'lladdr', mac(upstreamNs, UPSTREAM_DEVICE), 'dev', HOST_DEVICE, 'nud', 'permanent']);
    run(['ip', '-n', upstreamNs, 'neigh', 'replace', HOST_ADDRESS, 'lladdr', mac(hostNs, HOST_DEVICE), 'dev', UPSTREAM_DEVICE, 'nud', 'permanent']);
  } catch (e) {
    destroy();
    throw e;
  }
  return link;
}

// The processes of the lossy path, run with Node: under Bun or Deno (the test legs) `node` from
// PATH, which Holdfast's own build needs anyway. Paths are from the repository root, the working
// directory of the bench and of the tests (the Node test leg runs a bundled copy of this file).
const NODE = 'Bun' in globalThis || 'Deno' in globalThis ? 'node' : process.execPath;
const RELAY = 'build/bench/delay-relay.mjs';
const CLIENT = 'build/bench/lossy-client.mjs';

/**
 * @typedef {object} Started
 * @property {number} pid
 * @property {() => string} output  its stderr so far
 * @property {(graceMs?: number) => Promise<void>} stop  SIGTERM, then SIGKILL after graceMs; by PID
 */

/**
 * Starts `argv` and waits for `readyLine` on its stdout (or, with none, returns at once).
 * @param {readonly string[]} argv
 * @param {{ readyLine?: string, timeoutMs?: number, what: string }} opts
 * @returns {Promise<Started>}
 */
export function startTracked(argv, { readyLine, timeoutMs = 10_000, what }) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stderr.on('data', (d) => (err = (err + d).slice(-16_384)));
  const exited = new Promise((resolve) => {
    child.once('error', (e) => {
      err += e.message;
      resolve();
    });
    child.once('exit', () => resolve());
  });
  track(child);
  const gone = () => child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
  const started = {
    pid: child.pid ?? -1,
    output: () => err,
    async stop(graceMs = 3000) {
      if (!gone()) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
        const kill = setTimeout(() => gone() || process.kill(child.pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(kill);
      }
    },
  };
  if (!readyLine) {
    child.stdout.resume();
    return Promise.resolve(started);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(async () => {
      await started.stop(500);
      reject(new Error(`${what} did not start within ${timeoutMs} ms (${err.trim().slice(-400) || 'no output'})`));
    }, timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes(readyLine)) {
        clearTimeout(timer);
        child.stdout.resume();
        resolve(started);
      }
    });
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${what} exited before it was ready (${err.trim().slice(-400) || 'no output'})`));
    });
  });
}

/**
 * The delay relay in the upstream's namespace: listens on the link's upstream address at
 * `port` and forwards to `target` (an address:port inside that namespace, NSD's), `delayMs` each
 * way. With `ports`, it listens on each of them (one per server under test); with `statsFile`,
 * it keeps there the queries and questions that reached it, per port (delay-relay.mjs).
 * @param {LossyLink} link
 * @param {{ port?: number, ports?: readonly number[], target: string, delayMs: number, statsFile?: string }} opts
 */
export function startDelayRelay(link, { port = 53, ports = [port], target, delayMs, statsFile }) {
  const argv = link.inNs(link.upstreamNs, [NODE, RELAY, `${link.upstreamAddress}:${ports.join(',')}`, target, String(delayMs), ...(statsFile ? [statsFile] : [])]);
  return startTracked(argv, { readyLine: 'ready', what: 'delay relay' });
}

/**
 * Whether a DNS server at `server` (ADDR:PORT, inside `ns`) answers anything about `name`
 * within `limitMs`.
 * @param {LossyLink} link
 * @param {string} ns
 * @param {string} server
 * @param {string} name
 * @param {number} [limitMs]
 * @returns {Promise<boolean>}
 */
export function probeInNs(link, ns, server, name, limitMs = 10_000) {
  return new Promise((resolve) => {
    const argv = link.inNs(ns, [NODE, CLIENT, 'probe', server, name, String(limitMs)]);
    const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
    track(child);
    const backstop = setTimeout(() => child.kill('SIGKILL'), limitMs + 5000);
    child.once('error', () => resolve(false));
    child.once('exit', (code) => {
      clearTimeout(backstop);
      resolve(code === 0);
    });
  });
}

/**
 * @typedef {object} QueryResult
 * @property {string} name
 * @property {number | null} sentAtMs  from the client's start; null if never sent
 * @property {number | null} sentAtEpochMs  the same on the wall clock (Date.now()), to compare
 *   with an event timed by the test; null if never sent
 * @property {number | null} latencyMs null when unanswered within the timeout
 * @property {number | null} rcode
 * @property {boolean} ok              NOERROR with the expected address
 * @property {number | null} ttl
 */

/**
 * Sends each query once from inside Holdfast's namespace (lossy-client.mjs) and returns every
 * outcome, in order. Bounded: the client stops after the last query's timeout, and is killed
 * if it is still running a while after that.
 * @param {LossyLink} link
 * @param {{ server: string, timeoutMs: number, queries: ReadonlyArray<readonly [number, string, string | null]>, dir: string, label?: string }} job
 *   queries: [atMs, name, expected address]; dir: where the job and result files go
 * @returns {Promise<QueryResult[]>}
 */
export function sendQueries(link, { server, timeoutMs, queries, dir, label = 'client' }) {
  const jobFile = join(dir, `${label}-job.json`);
  const outFile = join(dir, `${label}-out.json`);
  writeFileSync(jobFile, JSON.stringify({ server, timeoutMs, queries }));
  const lastAtMs = queries.length ? queries[queries.length - 1][0] : 0;
  const argv = link.inNs(link.hostNs, [NODE, CLIENT, 'run', jobFile, outFile]);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    track(child);
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const backstop = setTimeout(() => child.kill('SIGKILL'), lastAtMs + timeoutMs + 15_000);
    child.once('error', (e) => reject(new Error(`lossy-client: cannot start (${e.message})`)));
    child.once('close', (code, signal) => {
      clearTimeout(backstop);
      if (code !== 0) return reject(new Error(`lossy-client ${label} failed (${code ?? signal}): ${err.trim().slice(-400)}`));
      const { startedAtMs, results } = JSON.parse(readFileSync(outFile, 'utf8'));
      resolve(results.map(([sentAtMs, latencyMs, rcode, ok, ttl], i) => ({
        name: queries[i][1],
        sentAtMs,
        sentAtEpochMs: sentAtMs === null ? null : startedAtMs + sentAtMs,
        latencyMs,
        rcode,
        ok: ok === 1,
        ttl,
      })));
    });
  });
}
