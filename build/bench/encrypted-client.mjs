// The encrypted stage's own DoT/DoH client: sends each name of a list once, `--concurrency` at
// a time, to one server, either on connections opened once and reused (`--mode reuse`) or on a
// fresh TLS connection per query (`--mode fresh`: connect, handshake, one query, one answer,
// close). It stands where Holdfast's upstream side would, so the two modes differ in nothing but
// the connections: same names, same server, same padding (128-byte blocks, as Holdfast pads), a
// full handshake each time (no session resumption, which Holdfast does not do either).
//   reuse, tls:   one connection, queries pipelined on it (as Holdfast's DoT transport does);
//   reuse, https: `--concurrency` keep-alive connections, one request at a time on each
//                 (HTTP/1.1 has no multiplexing; Holdfast keeps up to 4);
//   fresh:        `--concurrency` connections at a time, each for one query.
// Prints one JSON object: counts, every answered query's latency (ms, from the first byte of
// work for it: the connect in fresh mode, the write in reuse mode), and its own CPU time.
//   node build/bench/encrypted-client.mjs --proto tls|https --port P --server-name NAME --ca FILE
//     --names FILE [--warm-names FILE] --concurrency C --mode reuse|fresh --seconds S
//     [--path /dns-query] [--timeout-ms 2000] [--watch-pid PID]
// --watch-pid: also report that process's CPU time over the measured run (the server's cost),
// which the bench cannot read from outside without counting the warm-up too.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { threadCpuSeconds } from './procs.mjs';
import { createFrameReader, createResponseReader, dohPost, frame, idOf, paddedQuery, RCODE_NAMES, rcodeOf } from './encrypted-wire.mjs';

const { values: o } = parseArgs({
  options: {
    proto: { type: 'string' },
    port: { type: 'string' },
    'server-name': { type: 'string' },
    ca: { type: 'string' },
    names: { type: 'string' },
    'warm-names': { type: 'string' },
    concurrency: { type: 'string', default: '10' },
    mode: { type: 'string' },
    seconds: { type: 'string' },
    path: { type: 'string', default: '/dns-query' },
    'timeout-ms': { type: 'string', default: '2000' },
    'watch-pid': { type: 'string' },
  },
});
if (!['tls', 'https'].includes(o.proto) || !['reuse', 'fresh'].includes(o.mode) || !o.port || !o.names || !o.seconds || !o.ca || !o['server-name']) {
  process.stderr.write('encrypted-client: needs --proto tls|https --mode reuse|fresh --port --server-name --ca --names --seconds\n');
  process.exit(2);
}
const port = Number(o.port);
const concurrency = Number(o.concurrency);
const timeoutMs = Number(o['timeout-ms']);
const ca = readFileSync(o.ca);
const readNames = (file) => readFileSync(file, 'utf8').split('\n').map((l) => l.split(/\s+/)[0]).filter(Boolean);

let connections = 0;
/** Connect to secureConnect, per connection, for fresh mode's figures. */
let handshakesMs = [];

/** A verified TLS connection to the server; data and close go to the handlers given. */
function dial(onData, onClose) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: o['server-name'],
      // Given per connection, as Holdfast's adapter does (src/adapters/node/tls.ts): whatever
      // that costs per handshake is in both.
      ca,
      ALPNProtocols: o.proto === 'https' ? ['http/1.1'] : undefined,
      rejectUnauthorized: true,
    });
    socket.setNoDelay(true);
    // A fresh connection lives for one query: if that stalls, it goes (a reused one idles).
    if (o.mode === 'fresh') socket.setTimeout(timeoutMs, () => socket.destroy());
    let up = false;
    const t0 = performance.now();
    socket.once('secureConnect', () => {
      up = true;
      connections++;
      handshakesMs.push(Math.round((performance.now() - t0) * 1000) / 1000);
      resolve(socket);
    });
    socket.on('data', onData);
    socket.on('error', (e) => {
      if (!up) reject(e);
    });
    socket.on('close', () => (up ? onClose() : reject(new Error('closed during the handshake'))));
  });
}

const failure = (why) => new Error(why);

/** DoT: one shared connection, queries matched to replies by ID. */
function createDotShared() {
  let conn = null;
  let nextId = 0;
  const open = () => {
    const pending = new Map();
    const reader = createFrameReader((m) => pending.get(idOf(m))?.resolve(m));
    const c = {
      pending,
      closed: false,
      ready: dial(
        (d) => reader.push(d),
        () => {
          c.closed = true;
          for (const p of pending.values()) p.reject(failure('connection closed under the query'));
        },
      ),
    };
    c.ready.catch(() => (c.closed = true));
    return c;
  };
  return async (name) => {
    if (conn === null || conn.closed) conn = open();
    const c = conn;
    const socket = await c.ready;
    let id = nextId;
    for (let i = 0; i < 0x10000 && c.pending.has(id); i++) id = (id + 1) & 0xffff;
    nextId = (id + 1) & 0xffff;
    return new Promise((resolve, reject) => {
      const done = (f) => (v) => {
        c.pending.delete(id);
        f(v);
      };
      c.pending.set(id, { resolve: done(resolve), reject: done(reject) });
      socket.write(frame(paddedQuery(id, name)));
    });
  };
}

/** DoT, one connection per query. */
async function dotFresh(name) {
  let socket;
  const reply = new Promise((resolve, reject) => {
    const reader = createFrameReader(resolve);
    dial(
      (d) => reader.push(d),
      () => reject(failure('closed before the reply')),
    ).then((s) => {
      socket = s;
      s.write(frame(paddedQuery(0, name)));
    }, reject);
  });
  try {
    return await reply;
  } finally {
    socket?.destroy();
  }
}

/** DoH on one keep-alive connection, one request at a time: one of these per worker. */
function createDohKeepAlive() {
  let conn = null;
  const open = () => {
    const c = { waiter: null, closed: false };
    const settle = (f, v) => {
      const w = c.waiter;
      c.waiter = null;
      w?.[f](v);
    };
    const reader = createResponseReader(
      (res) => {
        if (!res.keepAlive) c.closed = true;
        settle('resolve', res);
      },
      (why) => {
        c.closed = true;
        settle('reject', failure(why));
      },
    );
    c.ready = dial(
      (d) => reader.push(d),
      () => {
        c.closed = true;
        settle('reject', failure('connection closed under the request'));
      },
    );
    c.ready.catch(() => (c.closed = true));
    return c;
  };
  return async (name) => {
    // A request that timed out still owes its response: that connection cannot carry another.
    if (conn?.waiter) conn.ready.then((s) => s.destroy(), () => {});
    if (conn === null || conn.closed || conn.waiter) conn = open();
    const c = conn;
    const socket = await c.ready;
    const res = await new Promise((resolve, reject) => {
      c.waiter = { resolve, reject };
      socket.write(dohPost({ path: o.path, authority: o['server-name'], body: paddedQuery(0, name) }));
    });
    if (c.closed) socket.destroy();
    return dohBody(res);
  };
}

function dohBody(res) {
  if (res.status !== 200) throw failure(`HTTP ${res.status}`);
  return res.body;
}

/** DoH, one connection per request. */
async function dohFresh(name) {
  let socket;
  const res = new Promise((resolve, reject) => {
    const reader = createResponseReader(resolve, (why) => reject(failure(why)));
    dial(
      (d) => reader.push(d),
      () => reject(failure('closed before the response')),
    ).then((s) => {
      socket = s;
      s.write(dohPost({ path: o.path, authority: o['server-name'], body: paddedQuery(0, name) }));
    }, reject);
  });
  try {
    return dohBody(await res);
  } finally {
    socket?.destroy();
  }
}

/** The exchange function each worker uses: shared or its own, per protocol and mode. */
const sharedDot = o.proto === 'tls' && o.mode === 'reuse' ? createDotShared() : null;
function exchangerFor() {
  if (o.proto === 'tls') return o.mode === 'reuse' ? sharedDot : dotFresh;
  return o.mode === 'reuse' ? createDohKeepAlive() : dohFresh;
}
const exchangers = Array.from({ length: concurrency }, exchangerFor);

function withTimeout(promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(failure(`no answer within ${timeoutMs} ms`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Each name once, `concurrency` in flight, until the names run out or `seconds` pass. */
async function run(names, seconds) {
  const r = { sent: 0, completed: 0, lost: 0, rcodes: {}, errors: {}, latenciesMs: [] };
  handshakesMs = [];
  const deadline = performance.now() + seconds * 1000;
  let next = 0;
  const worker = async (exchange) => {
    while (next < names.length && performance.now() < deadline) {
      const name = names[next++];
      r.sent++;
      const t0 = performance.now();
      try {
        const reply = await withTimeout(exchange(name));
        r.latenciesMs.push(Math.round((performance.now() - t0) * 1000) / 1000);
        r.completed++;
        const rcode = RCODE_NAMES[rcodeOf(reply)] ?? String(rcodeOf(reply));
        r.rcodes[rcode] = (r.rcodes[rcode] ?? 0) + 1;
      } catch (e) {
        r.lost++;
        r.errors[e.message] = (r.errors[e.message] ?? 0) + 1;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(exchangers.map(worker));
  r.runSeconds = (performance.now() - t0) / 1000;
  r.handshakesMs = handshakesMs;
  return r;
}

// The warm-up (JIT, and in reuse mode the connections, as Holdfast's are warm) is not counted.
if (o['warm-names']) await run(readNames(o['warm-names']), 2);
const names = readNames(o.names);
const watched = o['watch-pid'] ? Number(o['watch-pid']) : null;
const connectionsBefore = connections;
const watched0 = watched && threadCpuSeconds(watched);
const cpu0 = process.cpuUsage();
const r = await run(names, Number(o.seconds));
const cpu = process.cpuUsage(cpu0);
if (watched) r.watchedCpuSeconds = threadCpuSeconds(watched) - watched0;
r.connections = connections - connectionsBefore;
r.cpuSeconds = (cpu.user + cpu.system) / 1e6;
r.qps = r.completed / r.runSeconds;
process.stdout.write(`${JSON.stringify({ proto: o.proto, mode: o.mode, concurrency, ...r })}\n`);
// Kept-alive connections would hold the process open.
process.exit(0);
