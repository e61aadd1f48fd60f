// The client of the lossy-link bench and test: sends each query exactly once over UDP, at the
// time the job gives it, never retries, and records for each whether the reply was right and how
// long it took. A query not answered within the job's timeout counts as unanswered. Written apart
// from Holdfast's code on purpose: the measuring side must not share the measured side's bugs.
//   node build/bench/lossy-client.mjs run JOB.json OUT.json
//     JOB: { "server": "ADDR:PORT", "timeoutMs": 5000,
//            "queries": [[atMs, "name.example", "192.0.2.1" | null], ...] }   (sorted by atMs)
//     OUT: { "startedAtMs": epoch ms, "results": [[sentAtMs, latencyMs | null, rcode | null, ok 0|1, ttl | null], ...] }
//          in job order; ok: NOERROR with an A record equal to the expected address; sentAtMs
//          from startedAtMs, the wall clock at the job's start (to place results against an
//          event timed by another process: the clock is the kernel's, shared by namespaces).
//   node build/bench/lossy-client.mjs probe ADDR:PORT NAME [LIMIT_MS]
//     exits 0 once the server answers anything about NAME, 1 if it has not within LIMIT_MS.
// It runs inside a network namespace (ip netns exec), so it is a process of its own.
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const TICK_MS = 5;

function hostPort(text) {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(text ?? '');
  if (!m) throw new Error(`lossy-client: "${text}" is not IPv4ADDR:PORT`);
  return { address: m[1], port: Number(m[2]) };
}

/** An A query (RFC 1035 §4.1.1) with RD set and no EDNS, as a plain stub sends it. */
function aQuery(id, name) {
  const parts = [Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const label of name.split('.').filter(Boolean)) parts.push(Buffer.from([label.length]), Buffer.from(label, 'ascii'));
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  return Buffer.concat(parts);
}

/** Offset just past the name at `off` (labels, or a compression pointer, RFC 1035 §4.1.4); -1 if malformed. */
function skipName(m, off) {
  for (let hops = 0; hops < 128 && off < m.length; hops++) {
    const len = m[off];
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2;
    off += 1 + len;
  }
  return -1;
}

/** The question name as lower-case text, to tell our reply from a stray one. */
function questionName(m) {
  const labels = [];
  let off = 12;
  for (let i = 0; i < 128 && off < m.length && m[off] !== 0; i++) {
    if ((m[off] & 0xc0) !== 0) return null;
    labels.push(m.subarray(off + 1, off + 1 + m[off]).toString('latin1'));
    off += 1 + m[off];
  }
  return labels.join('.').toLowerCase();
}

/** rcode, and every A record's address and TTL in the answer section. */
function readReply(m) {
  const rcode = m[3] & 0x0f;
  const qd = m.readUInt16BE(4);
  const an = m.readUInt16BE(6);
  let off = 12;
  for (let i = 0; i < qd && off >= 0; i++) off = skipName(m, off) + 4;
  const addresses = [];
  for (let i = 0; i < an && off >= 0 && off + 10 <= m.length; i++) {
    off = skipName(m, off);
    if (off < 0 || off + 10 > m.length) break;
    const type = m.readUInt16BE(off);
    const ttl = m.readUInt32BE(off + 4);
    const rdlen = m.readUInt16BE(off + 8);
    off += 10;
    if (type === 1 && rdlen === 4 && off + 4 <= m.length) addresses.push({ address: `${m[off]}.${m[off + 1]}.${m[off + 2]}.${m[off + 3]}`, ttl });
    off += rdlen;
  }
  return { rcode, addresses };
}

function runJob(jobFile, outFile) {
  const job = JSON.parse(readFileSync(jobFile, 'utf8'));
  const server = hostPort(job.server);
  const timeoutMs = job.timeoutMs ?? 5000;
  const queries = job.queries;
  const results = queries.map(() => [null, null, null, 0, null]);
  const socket = dgram.createSocket('udp4');
  const inFlight = new Map(); // id -> { index, sentMs, name }
  let nextId = Math.floor(Math.random() * 0x10000);
  let next = 0;
  const lastAtMs = queries.length ? queries[queries.length - 1][0] : 0;
  const hardStopMs = lastAtMs + timeoutMs + 2000;
  const t0 = performance.now();
  const startedAtMs = Date.now();

  socket.on('message', (m) => {
    if (m.length < 12) return;
    const q = inFlight.get(m.readUInt16BE(0));
    if (!q || questionName(m) !== q.name) return;
    inFlight.delete(m.readUInt16BE(0));
    const { rcode, addresses } = readReply(m);
    const expect = queries[q.index][2];
    const match = addresses.find((a) => a.address === expect);
    const r = results[q.index];
    r[1] = +(performance.now() - q.sentMs).toFixed(3);
    r[2] = rcode;
    r[3] = rcode === 0 && match ? 1 : 0;
    r[4] = (match ?? addresses[0])?.ttl ?? null;
  });
  socket.on('error', () => {
    // A send error (no route while a link is down, say) leaves that query unanswered.
  });

  return new Promise((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      const elapsed = now - t0;
      for (; next < queries.length && queries[next][0] <= elapsed; next++) {
        // An ID not in use: at most 65,536 tries, and far fewer are ever in flight.
        for (let i = 0; i < 0x10000 && inFlight.has(nextId); i++) nextId = (nextId + 1) & 0xffff;
        const id = nextId;
        nextId = (nextId + 1) & 0xffff;
        const name = queries[next][1].toLowerCase().replace(/\.$/, '');
        inFlight.set(id, { index: next, sentMs: now, name });
        results[next][0] = +elapsed.toFixed(3);
        socket.send(aQuery(id, name), server.port, server.address);
      }
      for (const [id, q] of inFlight) if (now - q.sentMs >= timeoutMs) inFlight.delete(id);
      if ((next >= queries.length && inFlight.size === 0) || elapsed > hardStopMs) {
        clearInterval(tick);
        socket.close();
        writeFileSync(outFile, JSON.stringify({ startedAtMs, results }));
        resolve();
      }
    }, TICK_MS);
  });
}

/** Asks NAME every 100 ms until any reply comes back; bounded by `limitMs`. */
function probe(serverText, name, limitMs) {
  const server = hostPort(serverText);
  const socket = dgram.createSocket('udp4');
  let id = 1;
  return new Promise((resolve) => {
    const finish = (ok) => {
      clearInterval(timer);
      clearTimeout(limit);
      socket.close();
      resolve(ok);
    };
    socket.on('message', (m) => m.length >= 12 && finish(true));
    socket.on('error', () => {});
    const send = () => socket.send(aQuery(id++ & 0xffff, name), server.port, server.address);
    const timer = setInterval(send, 100);
    const limit = setTimeout(() => finish(false), limitMs);
    send();
  });
}

const [mode, ...args] = process.argv.slice(2);
try {
  if (mode === 'run' && args.length === 2) {
    await runJob(args[0], args[1]);
  } else if (mode === 'probe' && (args.length === 2 || args.length === 3)) {
    process.exitCode = (await probe(args[0], args[1], Number(args[2] ?? 10_000))) ? 0 : 1;
  } else {
    process.stderr.write('usage: lossy-client.mjs run JOB.json OUT.json | probe ADDR:PORT NAME [LIMIT_MS]\n');
    process.exitCode = 2;
  }
} catch (e) {
  process.stderr.write(`${e.message}\n`);
  process.exitCode = 1;
}
