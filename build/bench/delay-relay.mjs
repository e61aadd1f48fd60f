// A DNS path with delay, since the kernel here has no netem: listens on UDP and TCP, forwards to
// one server, and holds every packet (UDP) or chunk (TCP) for DELAY_MS in each direction, so a
// delay of 40 gives an 80 ms round trip. Run inside the upstream's namespace in front of NSD.
//   node build/bench/delay-relay.mjs LISTEN_ADDR:PORT[,PORT...] TARGET_ADDR:PORT DELAY_MS [STATS_FILE]
// Prints one line, "ready", once every socket listens. Stops on SIGTERM or SIGINT.
//
// Several listening ports give each server under test its own way to the one upstream, so what
// each sends can be told apart (the bench counts packets per port). With STATS_FILE, it keeps
// there, per port, the UDP queries that arrived and the distinct questions among them (copies of
// one question, arriving within QUESTION_GAP_MS of each other, count once).
//
// Timers only: each packet gets its own setTimeout, and Node fires timers of equal delay in the
// order they were set, so a TCP stream keeps its byte order.
import dgram from 'node:dgram';
import net from 'node:net';

import { renameSync, writeFileSync } from 'node:fs';

const [listenText, targetText, delayText, statsFile] = process.argv.slice(2);
const hostPort = (text) => {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+(?:,\d+)*)$/.exec(text ?? '');
  return m ? { address: m[1], ports: m[2].split(',').map(Number) } : null;
};
const listen = hostPort(listenText);
const target = hostPort(targetText);
const delayMs = Number(delayText);
if (!listen || !target || target.ports.length !== 1 || !Number.isInteger(delayMs) || delayMs < 0 || delayMs > 10_000) {
  process.stderr.write('usage: delay-relay.mjs LISTEN_ADDR:PORT[,PORT...] TARGET_ADDR:PORT DELAY_MS (0..10000) [STATS_FILE]\n');
  process.exit(2);
}

/** Copies of one question arrive closer together than this; the same name asked again after a TTL (5 s at least in the bench) is a new question. */
const QUESTION_GAP_MS = 2_500;
const stats = Object.fromEntries(listen.ports.map((p) => [p, { queries: 0, questions: 0 }]));
const lastAsked = new Map(); // "port name type" -> ms
let statsDirty = false;

/** The question of a DNS query as "name type", or null if it is not one. */
function questionOf(msg) {
  if (msg.length < 17) return null;
  const labels = [];
  let i = 12;
  while (i < msg.length && msg[i] !== 0) {
    const n = msg[i];
    if (n > 63 || i + 1 + n > msg.length) return null;
    labels.push(msg.subarray(i + 1, i + 1 + n).toString('latin1').toLowerCase());
    i += 1 + n;
  }
  if (i + 4 >= msg.length) return null;
  return `${labels.join('.')} ${msg.readUInt16BE(i + 1)}`;
}

function countQuery(port, msg) {
  const s = stats[port];
  s.queries++;
  const q = questionOf(msg);
  if (q !== null) {
    const key = `${port} ${q}`;
    const now = Date.now();
    const last = lastAsked.get(key);
    if (last === undefined || now - last > QUESTION_GAP_MS) s.questions++;
    lastAsked.set(key, now);
  }
  statsDirty = true;
}

const statsTimer = statsFile
  ? setInterval(() => {
      if (!statsDirty) return;
      statsDirty = false;
      // Written aside and renamed, so a reader never sees half a file.
      writeFileSync(`${statsFile}.tmp`, JSON.stringify(stats));
      renameSync(`${statsFile}.tmp`, statsFile);
    }, 200)
  : null;

// UDP: one socket towards the target per client address and port, so replies find their way back.
/** Per client socket kept at most this long without traffic, and at most this many at once. */
const UDP_IDLE_MS = 30_000;
const UDP_MAX_FLOWS = 4096;
const TCP_MAX_CONNECTIONS = 512;

const flows = new Map(); // "listenPort addr:port" -> { socket, lastMs }

/** `udp` is the listening socket the client's queries came in on: its replies go out through it. */
function flowFor(udp, listenPort, address, port) {
  const key = `${listenPort} ${address}:${port}`;
  let flow = flows.get(key);
  if (flow) {
    // Re-inserted so the Map's order stays least recently used first.
    flows.delete(key);
    flows.set(key, flow);
    flow.lastMs = Date.now();
    return flow;
  }
  if (flows.size >= UDP_MAX_FLOWS) closeFlow(flows.keys().next().value);
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg) => setTimeout(() => udp.send(msg, port, address), delayMs));
  socket.on('error', () => closeFlow(key));
  flow = { socket, lastMs: Date.now() };
  flows.set(key, flow);
  return flow;
}

function closeFlow(key) {
  const flow = flows.get(key);
  if (!flow) return;
  flows.delete(key);
  try {
    flow.socket.close();
  } catch {
    // Already closed.
  }
}

const udps = listen.ports.map((listenPort) => {
  const udp = dgram.createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    if (statsFile) countQuery(listenPort, msg);
    setTimeout(() => flowFor(udp, listenPort, rinfo.address, rinfo.port).socket.send(msg, target.ports[0], target.address), delayMs);
  });
  return udp;
});

const sweep = setInterval(() => {
  const oldest = Date.now() - UDP_IDLE_MS;
  for (const [key, flow] of flows) {
    if (flow.lastMs >= oldest) break;
    closeFlow(key);
  }
}, 5_000);

// TCP: a connection to the target per client connection; data and the closing FIN both delayed.
const connections = new Set();
const serveTcp = (client) => {
  if (connections.size >= TCP_MAX_CONNECTIONS) {
    client.destroy();
    return;
  }
  const upstream = net.connect(target.ports[0], target.address);
  connections.add(client);
  const later = (fn) => setTimeout(fn, delayMs);
  const pipe = (from, to) => {
    from.on('data', (d) => later(() => to.destroyed || to.write(d)));
    from.on('end', () => later(() => to.destroyed || to.end()));
    from.on('error', () => later(() => to.destroy()));
    from.on('close', () => later(() => to.destroy()));
  };
  pipe(client, upstream);
  pipe(upstream, client);
  client.on('close', () => connections.delete(client));
};
const tcps = listen.ports.map(() => net.createServer(serveTcp));

let pending = 2 * listen.ports.length;
const ready = () => {
  if (--pending === 0) process.stdout.write('ready\n');
};
listen.ports.forEach((port, i) => {
  udps[i].on('error', (e) => {
    process.stderr.write(`delay-relay: udp ${listen.address}:${port}: ${e.message}\n`);
    process.exit(1);
  });
  tcps[i].on('error', (e) => {
    process.stderr.write(`delay-relay: tcp ${listen.address}:${port}: ${e.message}\n`);
    process.exit(1);
  });
  udps[i].bind(port, listen.address, ready);
  tcps[i].listen(port, listen.address, ready);
});

const stop = () => {
  clearInterval(sweep);
  if (statsTimer) clearInterval(statsTimer);
  for (const key of [...flows.keys()]) closeFlow(key);
  for (const c of connections) c.destroy();
  for (const udp of udps) udp.close();
  for (const tcp of tcps) tcp.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
