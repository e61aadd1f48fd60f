// The processes the bench starts: spawned (optionally pinned to a core with taskset), tracked by
// PID, and killed by that PID only, also when the bench fails or is interrupted.
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';

/** pid -> the process we started and have not seen exit. */
const live = new Map();
const KEEP_OUTPUT_CHARS = 64 * 1024;

/** `taskset -c CPU` in front of argv when a core is given; taskset execs, so the PID stays. */
function pinned(argv, cpu) {
  return cpu === undefined ? argv : ['taskset', '-c', String(cpu), ...argv];
}

/**
 * Starts a long-running process (`env` adds to this process's environment). Its stdout and
 * stderr are kept (the tail, for error messages).
 * `exited` resolves with { code, signal } when it ends, or { error } if it could not start.
 */
export function startProcess(name, argv, { cpu, env } = {}) {
  const full = pinned(argv, cpu);
  const child = spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
  let output = '';
  const keep = (d) => {
    output = (output + d).slice(-KEEP_OUTPUT_CHARS);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => {
    child.once('error', (error) => resolve({ error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const proc = {
    name,
    pid: child.pid,
    argv: full,
    exited,
    get done() {
      return child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
    },
    output: () => output,
    /** SIGTERM, then SIGKILL after `graceMs`. */
    async stop(graceMs = 3000) {
      if (!proc.done) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
        const timer = setTimeout(() => {
          if (!proc.done) process.kill(child.pid, 'SIGKILL');
        }, graceMs);
        await exited;
        clearTimeout(timer);
      }
      return exited;
    },
  };
  if (child.pid !== undefined) {
    live.set(child.pid, proc);
    exited.then(() => live.delete(child.pid));
  }
  return proc;
}

/** Runs a process to completion, killed after `timeoutMs`; resolves with its whole output. */
export function runProcess(argv, { cpu, timeoutMs }) {
  const full = pinned(argv, cpu);
  return new Promise((resolve) => {
    const child = spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    if (child.pid !== undefined) live.set(child.pid, { stop: async () => child.kill('SIGKILL'), pid: child.pid });
    const finish = (result) => {
      clearTimeout(timer);
      live.delete(child.pid);
      resolve({ ...result, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    };
    child.once('error', (error) => finish({ code: null, error }));
    child.once('close', (code, signal) => finish({ code, signal, timedOut: signal === 'SIGKILL' }));
  });
}

/** Stops every process the bench started and has not seen exit. */
export async function stopAll() {
  await Promise.all([...live.values()].map((p) => p.stop(1000)));
}

/** For process.on('exit'): no awaiting there, so straight to SIGKILL. */
export function killAllNow() {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Moves every thread of this process to `cpu`, so children default there too. */
export function pinSelf(cpu) {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' });
}

export const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of the whole process (all threads), in seconds. proc(5): fields 14 and 15. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; count fields from after its closing ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/**
 * CPU time of the process's live threads, in seconds, to the nanosecond: the first field of each
 * /proc/PID/task/TID/schedstat. For runs too short for clock ticks (10 ms each) to count, such
 * as a few dozen queries; a thread that exited in between takes its time with it.
 */
export function threadCpuSeconds(pid) {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread exited between the listing and the read.
    }
  }
  return ns / 1e9;
}

/** VmRSS in KiB, from /proc/PID/status. */
export function rssKiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/**
 * RSS split in KiB: { file } pages mapped from files (the executable's code and embedded data,
 * shared libraries: clean, shared with other copies and reclaimable) and { anon } pages of its
 * own (heaps, buffers, the cache).
 */
export function rssPartsKiB(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const read = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { file: read('RssFile') + read('RssShmem'), anon: read('RssAnon') };
}

function tcpFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A loopback port free for UDP and TCP right now (callers retry if they lose the race). */
export async function freePort() {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise((resolve, reject) => {
      const s = dgram.createSocket('udp4');
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    if (await tcpFree(port)) return port;
  }
  throw new Error('bench: no free port on 127.0.0.1');
}

/** A minimal A query (RFC 1035 §4.1) with RD set, for readiness probes. */
function aQuery(id, name) {
  const labels = name.split('.').filter(Boolean);
  const parts = [Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, 'ascii'));
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  return Buffer.concat(parts);
}

/** Sends one UDP query; resolves with the reply's rcode, or null on timeout. */
export function probe(port, name, timeoutMs = 200) {
  return new Promise((resolve) => {
    const id = Math.floor(Math.random() * 0xffff);
    const s = dgram.createSocket('udp4');
    const done = (v) => {
      clearTimeout(timer);
      s.close();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    s.on('error', () => done(null));
    s.on('message', (m) => {
      if (m.length >= 12 && m.readUInt16BE(0) === id) done(m[3] & 0x0f);
    });
    s.send(aQuery(id, name), port, '127.0.0.1');
  });
}

/** Waits until `proc` answers `name` on `port`; false if it exits or `timeoutMs` passes. */
export async function waitAnswering(proc, port, name, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !proc.done) {
    if ((await probe(port, name)) !== null) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Clock ticks core `cpu` spent busy (anything but idle and iowait, steal included), and in all. */
export function coreTicks(cpu) {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + (steal || 0);
  return { busy, total: busy + idle + iowait };
}
