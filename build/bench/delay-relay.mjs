// A DNS path with delay, since the kernel here has no netem: listens on UDP and TCP, forwards to
// one server, and holds every packet (UDP) or chunk (TCP) for DELAY_MS in each direction, so a
// delay of 40 gives an 80 ms round trip. Run inside the upstream's namespace in front of NSD.
//   node build/bench/delay-relay.mjs LISTEN_ADDR:PORT TARGET_ADDR:PORT DELAY_MS
// Prints one line, "ready", once both sockets listen. Stops on SIGTERM or SIGINT.
//
// Timers only: each packet gets its own setTimeout, and Node fires timers of equal delay in the
// order they were set, so a TCP stream keeps its byte order.
import dgram from 'node:dgram';
import net from 'node:net';

const [listenText, targetText, delayText] = process.argv.slice(2);
const hostPort = (text) => {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(text ?? '');
  return m ? { address: m[1], port: Number(m[2]) } : null;
};
const listen = hostPort(listenText);
const target = hostPort(targetText);
const delayMs = Number(delayText);
if (!listen || !target || !Number.isInteger(delayMs) || delayMs < 0 || delayMs > 10_000) {
  process.stderr.write('usage: delay-relay.mjs LISTEN_ADDR:PORT TARGET_ADDR:PORT DELAY_MS (0..10000)\n');
  process.exit(2);
}

// UDP: one socket towards the target per client address and port, so replies find their way back.
/** Per client socket kept at most this long without traffic, and at most this many at once. */
const UDP_IDLE_MS = 30_000;
const UDP_MAX_FLOWS = 4096;
const TCP_MAX_CONNECTIONS = 512;

const flows = new Map(); // "addr:port" -> { socket, lastMs }
const udp = dgram.createSocket('udp4');

function flowFor(address, port) {
  const key = `${address}:${port}`;
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

udp.on('message', (msg, rinfo) => {
  setTimeout(() => flowFor(rinfo.address, rinfo.port).socket.send(msg, target.port, target.address), delayMs);
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
const tcp = net.createServer((client) => {
  if (connections.size >= TCP_MAX_CONNECTIONS) {
    client.destroy();
    return;
  }
  const upstream = net.connect(target.port, target.address);
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
});

let pending = 2;
const ready = () => {
  if (--pending === 0) process.stdout.write('ready\n');
};
udp.on('error', (e) => {
  process.stderr.write(`delay-relay: udp ${listenText}: ${e.message}\n`);
  process.exit(1);
});
tcp.on('error', (e) => {
  process.stderr.write(`delay-relay: tcp ${listenText}: ${e.message}\n`);
  process.exit(1);
});
udp.bind(listen.port, listen.address, ready);
tcp.listen(listen.port, listen.address, ready);

const stop = () => {
  clearInterval(sweep);
  for (const key of [...flows.keys()]) closeFlow(key);
  for (const c of connections) c.destroy();
  udp.close();
  tcp.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
