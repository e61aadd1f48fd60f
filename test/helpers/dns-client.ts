// Asking a DNS server from a test: raw UDP/TCP exchanges (for malformed input) and the real
// dig and kdig clients (for "what a user would see").

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { decode, query, type Decoded } from './packets.ts';

/**
 * Sends raw bytes over UDP and returns the first datagram back, or null after `timeoutMs`.
 * With `bindAddress` the query leaves from that address (any 127.x.y.z works on Linux's
 * loopback), so one test can play several clients.
 */
export function udpExchange(
  port: number,
  bytes: Uint8Array,
  timeoutMs = 2000,
  address = '127.0.0.1',
  bindAddress?: string,
): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(null);
    }, timeoutMs);
    s.on('message', (msg) => {
      clearTimeout(timer);
      s.close();
      resolve(new Uint8Array(msg));
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      s.close();
      reject(e);
    });
    if (bindAddress === undefined) s.send(bytes, port, address);
    else s.bind(0, bindAddress, () => s.send(bytes, port, address));
  });
}

/**
 * Opens a TCP connection, writes `chunks` (with `gapMs` between them; then FIN if `halfClose`)
 * and collects framed replies until `expect` have arrived, the server closes, or `timeoutMs`
 * passes.
 */
export function tcpExchange(
  port: number,
  chunks: Uint8Array[],
  expect: number,
  opts: { gapMs?: number; timeoutMs?: number; address?: string; halfClose?: boolean; bindAddress?: string } = {},
): Promise<{ replies: Uint8Array[]; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const replies: Uint8Array[] = [];
    let closedByServer = false;
    let done = false;
    const s = net.connect({ port, host: opts.address ?? '127.0.0.1', localAddress: opts.bindAddress });
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ replies, closedByServer });
    };
    const timer = setTimeout(finish, opts.timeoutMs ?? 3000);
    const push = createTestFramer((m) => replies.push(m));
    s.on('data', (d: Buffer) => {
      push(new Uint8Array(d));
      if (replies.length >= expect) finish();
    });
    s.on('close', () => {
      closedByServer = true;
      finish();
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      // A reset is the server closing on us too (it closed with our data unread).
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') closedByServer = true;
      finish();
    });
    s.on('connect', async () => {
      for (const c of chunks) {
        s.write(c);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
      // FIN after the queries, as `nc -N` and some stubs do; replies may still come back.
      if (opts.halfClose) s.end();
    });
  });
}

/**
 * Collects length-prefixed DNS messages (RFC 1035 §4.2.2) from a TCP byte stream. Written
 * apart from src/core/stream-framer.ts on purpose: a test client must not share the server's
 * bugs.
 */
export function createTestFramer(onMessage: (message: Uint8Array) => void): (chunk: Uint8Array) => void {
  let buf: Uint8Array = new Uint8Array(0);
  return (chunk) => {
    const joined = new Uint8Array(buf.length + chunk.length);
    joined.set(buf);
    joined.set(chunk, buf.length);
    buf = joined;
    while (buf.length >= 2 && buf.length >= 2 + ((buf[0] << 8) | buf[1])) {
      const len = (buf[0] << 8) | buf[1];
      onMessage(buf.slice(2, 2 + len));
      buf = buf.slice(2 + len);
    }
  };
}

export function lengthPrefixed(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + 2);
  out[0] = message.length >> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runTool(cmd: string, args: string[], timeoutMs = 15_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** dig with sane test defaults: one try, a short timeout; `bindAddress` is dig's -b. */
export function dig(port: number, args: string[], address = '127.0.0.1', bindAddress?: string): Promise<ToolResult> {
  const bind = bindAddress === undefined ? [] : ['-b', bindAddress];
  return runTool('dig', [`@${address}`, '-p', String(port), ...bind, '+tries=1', '+time=3', ...args]);
}

export function kdig(port: number, args: string[], address = '127.0.0.1'): Promise<ToolResult> {
  return runTool('kdig', [`@${address}`, '-p', String(port), '+retry=0', '+time=3', ...args]);
}

let nextId = 1;

/** Asks `name` A over UDP with a fresh ID and returns the reply, decoded; fails the test if none comes. */
export async function askA(port: number, name: string, waitMs: number): Promise<Decoded> {
  const id = nextId++ & 0xffff;
  const r = await udpExchange(port, query(name, 'A', { id }), waitMs);
  assert.ok(r, `no reply at all for ${name}`);
  const d = decode(r);
  assert.equal(d.id, id);
  return d;
}
