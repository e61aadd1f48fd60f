// The relay client over a fake network whose relay is a Fetch handler: the real relay server
// (createRelayHandler) for the good path, small handlers for each way a relay can go wrong.
// Time is fake; gzip and Response bodies are real asynchronous work, so the helper below lets
// real macrotasks run between steps of fake time.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendBytes } from '../../../src/core/stream-framer.ts';
import { createCounters } from '../../../src/core/counters.ts';
import { ErrorCode, HoldfastError, isHoldfastError } from '../../../src/core/errors.ts';
import type { CorePorts } from '../../../src/core/ports.ts';
import { createRelayTransport, DEFAULT_RELAY_CLIENT, type RelayClientSettings } from '../../../src/upstreams/relay/client.ts';
import { decodeRelayRequest, encodeRelayInfo, encodeRelayResponse, DEFAULT_RELAY_LIMITS, type RelayResultItem } from '../../../src/protocols/relay-v1.ts';
import { parseUpstream } from '../../../src/upstreams/spec.ts';
import { DEFAULT_ENCRYPTED_SETTINGS, type EncryptedTransportSettings, type UpstreamEvent } from '../../../src/upstreams/transport.ts';
import { createRelayHandler } from '../../../src/server/relay/handler.ts';
import { createFakeTime, type FakeTime } from '../../helpers/fake-clock.ts';
import { createFakeNet, settle, type FakeTlsServer } from '../../helpers/fake-net.ts';
import { decode, query, reply } from '../../helpers/packets.ts';

const AT = '192.0.2.9:443';
const URL = 'relay+https://192.0.2.9/relay#relay.example';
const ab = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;
const text = new TextDecoder();

type Handler = (request: Request) => Response | Promise<Response>;

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly headers: Headers;
  /** The body as sent (gzipped if it was). */
  readonly raw: Uint8Array;
  readonly conn: number;
}

/** An HTTP/1.1 server over fake TLS connections that hands each request to a Fetch handler. */
function fetchServer(handler: Handler, seen: Seen[]): FakeTlsServer {
  let conns = 0;
  return {
    accept(peer) {
      const conn = conns++;
      let buf: Uint8Array = new Uint8Array(0);
      return {
        onData(bytes) {
          buf = appendBytes(buf, bytes);
          for (;;) {
            const all = text.decode(buf);
            const end = all.indexOf('\r\n\r\n');
            if (end < 0) return;
            const [line, ...fields] = all.slice(0, end).split('\r\n');
            const headers = new Headers(fields.map((f) => [f.slice(0, f.indexOf(':')), f.slice(f.indexOf(':') + 1).trim()] as [string, string]));
            const length = Number(headers.get('content-length') ?? 0);
            // The head is ASCII, so its length in characters is its length in bytes.
            if (buf.length < end + 4 + length) return;
            const raw = buf.slice(end + 4, end + 4 + length);
            buf = buf.slice(end + 4 + length);
            const [method, path] = line.split(' ');
            seen.push({ method, path, headers, raw, conn });
            const request = new Request(`http://relay.example${path}`, { method, headers, body: method === 'POST' ? ab(raw) : undefined });
            void Promise.resolve(handler(request)).then(async (res) => {
              const body = new Uint8Array(await res.arrayBuffer());
              let head = `HTTP/1.1 ${res.status} X\r\n`;
              res.headers.forEach((v, k) => {
                if (k !== 'content-length') head += `${k}: ${v}\r\n`;
              });
              head += `content-length: ${body.length}\r\n\r\n`;
              const out = new Uint8Array(head.length + body.length);
              out.set(new TextEncoder().encode(head));
              out.set(body, head.length);
              if (!peer.closed) peer.write(out);
            });
          }
        },
      };
    },
  };
}

const answerFor = (q: Uint8Array, address = '192.0.2.77') =>
  reply(q, { answers: [{ type: 'A', name: decode(q).questions[0].name, ttl: 60, class: 'IN', data: address }] });

/** The real relay server, answering every question itself. */
const realRelay = (o: { token?: string; limits?: typeof DEFAULT_RELAY_LIMITS; fail?: (name: string) => boolean } = {}) =>
  createRelayHandler({
    token: o.token ?? null,
    basePath: '/relay',
    limits: o.limits,
    resolve: async (q) => {
      if (o.fail?.(decode(q).questions[0].name)) throw new HoldfastError(ErrorCode.upstreamTimeout, 'their upstream is slow');
      return answerFor(q);
    },
  });

const json = (status: number, body: Uint8Array | string, headers: Record<string, string> = {}) =>
  new Response(typeof body === 'string' ? body : ab(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const INFO = () => json(200, encodeRelayInfo(DEFAULT_RELAY_LIMITS, false));

function setup(handler: Handler, relay: Partial<RelayClientSettings> = {}, url = URL, encrypted: Partial<EncryptedTransportSettings> = {}) {
  const time = createFakeTime();
  const seen: Seen[] = [];
  const fake = createFakeNet({ [AT]: { tls: fetchServer(handler, seen) } });
  const counters = createCounters();
  const events: UpstreamEvent[] = [];
  const ports: CorePorts = { clock: time, timers: time, entropy: { random: () => 0.25, id16: () => 9 }, net: fake.net };
  const t = createRelayTransport(
    parseUpstream(url),
    { ...DEFAULT_ENCRYPTED_SETTINGS, ...encrypted, onEvent: (e) => events.push(e), relay: { ...DEFAULT_RELAY_CLIENT, infoCheck: 'off', ...relay } },
    ports,
    counters,
  );
  const ask = (name: string, id = 0x4242, timeoutMs = 4000, signal?: AbortSignal) => t.exchange(query(name, 'A', { id }), timeoutMs, signal);
  return { time, seen, counters, events, t, ask, fake };
}

/** Waits for `p`, letting real async work (gzip, bodies) run and moving fake time 1 ms a step. */
const until = <T>(p: Promise<T>, time: FakeTime, maxSteps = 20_000): Promise<T> => settle(p, time, 1, maxSteps, true);

/** Moves fake time `ms` on, then lets a few real tasks (gzip, bodies, fake sockets) run. */
async function stepTime(time: FakeTime, ms: number): Promise<void> {
  time.advance(ms);
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

async function rejectsWith(p: Promise<unknown>, time: FakeTime, code: ErrorCode, message?: RegExp): Promise<HoldfastError> {
  try {
    await until(p, time);
  } catch (e) {
    assert.ok(isHoldfastError(e, code), `expected ${code}, got ${(e as Error).message}`);
    if (message) assert.match((e as Error).message, message);
    return e as HoldfastError;
  }
  assert.fail(`expected ${code}, but it resolved`);
}

const addressOf = (bytes: Uint8Array) => (decode(bytes).answers?.[0] as { data?: string } | undefined)?.data;
const itemsOf = async (s: Seen) => {
  const raw = s.headers.get('content-encoding') === 'gzip' ? new Uint8Array(await new Response(new Blob([ab(s.raw)]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer()) : s.raw;
  return decodeRelayRequest(raw).items;
};
const batches = (seen: Seen[]) => seen.filter((s) => s.path.endsWith('/v1/dns'));

describe('relay client: batching', () => {
  it('sends the questions of one window together in one POST to BASE/v1/dns, each copy getting its own answer with its own ID', async () => {
    const s = setup(realRelay());
    const asked = [s.ask('a.example', 1), s.ask('b.example', 2), s.ask('c.example', 3)];
    const replies = await until(Promise.all(asked), s.time);
    assert.deepEqual(replies.map((r) => decode(r).id), [1, 2, 3]);
    assert.deepEqual(replies.map((r) => decode(r).questions[0].name), ['a.example', 'b.example', 'c.example']);
    assert.equal(batches(s.seen).length, 1);
    const sent = batches(s.seen)[0];
    assert.equal(sent.method, 'POST');
    assert.equal(sent.path, '/relay/v1/dns');
    assert.equal(sent.headers.get('content-type'), 'application/json');
    assert.equal(sent.headers.get('accept-encoding'), 'gzip');
    assert.equal((await itemsOf(sent)).length, 3);
    assert.equal(s.counters.relay_batches, 1);
    assert.equal(s.counters.relay_items, 3);
  });

  it('waits the window for company, then goes; a question after the window takes the next batch', async () => {
    const s = setup(realRelay(), { batchWindowMs: 10 });
    const first = s.ask('a.example', 1);
    s.time.advance(9);
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(batches(s.seen).length, 0, 'nothing before the window ends');
    const second = s.ask('b.example', 2);
    await until(Promise.all([first, second]), s.time);
    assert.equal(batches(s.seen).length, 1);
    await until(s.ask('c.example', 3), s.time);
    assert.equal(batches(s.seen).length, 2);
    assert.deepEqual((await itemsOf(batches(s.seen)[1])).length, 1);
  });

  it('cuts batches at max_items and at max_request_bytes, and a full batch does not wait for the window', async () => {
    const s = setup(realRelay(), { batchWindowMs: 1000, limits: { ...DEFAULT_RELAY_CLIENT.limits, max_items: 4 } });
    const asked = Array.from({ length: 9 }, (_, i) => s.ask(`n${i}.example`, i + 1));
    await new Promise((r) => setTimeout(r, 0));
    await until(Promise.all(asked.slice(0, 8)), s.time, 500);
    assert.deepEqual(await Promise.all(batches(s.seen).slice(0, 2).map(async (b) => (await itemsOf(b)).length)), [4, 4]);
    await until(asked[8], s.time);
    assert.equal(batches(s.seen).length, 3);

    const small = setup(realRelay(), { batchWindowMs: 5, gzipMinBytes: 1e9, limits: { ...DEFAULT_RELAY_CLIENT.limits, max_request_bytes: 600 } });
    await until(Promise.all(Array.from({ length: 8 }, (_, i) => small.ask(`name-number-${i}.example`, i + 1))), small.time);
    const sizes = batches(small.seen).map((b) => b.raw.length);
    assert.ok(sizes.length >= 2, `${sizes.length} batches`);
    for (const n of sizes) assert.ok(n <= 600, `a ${n}-byte request passes 600`);
  });

  it('gzips request bodies from gzipMinBytes up, and reads gzipped responses', async () => {
    const s = setup(realRelay(), { gzipMinBytes: 200 });
    await until(Promise.all([s.ask('x.example', 1)]), s.time);
    assert.equal(batches(s.seen)[0].headers.get('content-encoding'), null, 'one small question goes plain');
    const many = await until(Promise.all(Array.from({ length: 10 }, (_, i) => s.ask(`g${i}.example`, i + 1))), s.time);
    const big = batches(s.seen)[1];
    assert.equal(big.headers.get('content-encoding'), 'gzip');
    assert.equal((await itemsOf(big)).length, 10);
    assert.deepEqual(many.map(addressOf), Array(10).fill('192.0.2.77'));
  });

  it('while every connection is busy, questions wait and then go together in one request, whatever their windows', async () => {
    const held: Array<() => void> = [];
    const relay = realRelay();
    const s = setup(
      async (r) => {
        const body = new Uint8Array(await r.arrayBuffer());
        await new Promise<void>((go) => held.push(go));
        return relay(new Request('http://relay.example/relay/v1/dns', { method: 'POST', body: ab(body) }));
      },
      { batchWindowMs: 3 },
      URL,
      { httpConnections: 1 },
    );
    const first = s.ask('first.example', 1);
    const step = (ms: number) => stepTime(s.time, ms);
    await step(5);
    assert.equal(held.length, 1, 'the first question went alone');
    const later = [];
    for (const name of ['b.example', 'c.example', 'd.example']) {
      later.push(s.ask(name, later.length + 2));
      await step(10); // each in a window of its own
    }
    assert.equal(held.length, 1, 'nothing more while the connection is busy');
    held[0]();
    await settle(first, s.time, 1, 1000, true);
    for (let i = 0; i < 50 && held.length < 2; i++) await step(1);
    assert.equal(held.length, 2);
    held[1]();
    const answers = await settle(Promise.all(later), s.time, 1, 1000, true);
    assert.deepEqual(answers.map((a) => decode(a).questions[0].name), ['b.example', 'c.example', 'd.example']);
    assert.deepEqual(await Promise.all(batches(s.seen).map(async (b) => (await itemsOf(b)).length)), [1, 3]);
  });

  it('a request stalled past silentConnectionMs no longer holds its place: what waits goes on a second connection, and the stalled one still answers', async () => {
    const held: Array<() => void> = [];
    const relay = realRelay();
    const s = setup(
      async (r) => {
        const body = new Uint8Array(await r.arrayBuffer());
        const names = decodeRelayRequest(body).items.map((i) => decode(i.q!).questions[0].name);
        if (names.includes('stuck.example')) await new Promise<void>((go) => held.push(go));
        return relay(new Request('http://relay.example/relay/v1/dns', { method: 'POST', body: ab(body) }));
      },
      {},
      URL,
      { httpConnections: 1, silentConnectionMs: 2000 },
    );
    const t0 = s.time.now();
    const stuck = s.ask('stuck.example', 1, 8000);
    const step = (ms: number) => stepTime(s.time, ms);
    await step(10);
    const next = s.ask('next.example', 2, 8000);
    await step(1000);
    assert.equal(batches(s.seen).length, 1, 'within silentConnectionMs the one connection is still its');
    const answer = await settle(next, s.time, 10, 500, true);
    assert.equal(decode(answer).questions[0].name, 'next.example');
    assert.deepEqual(batches(s.seen).map((b) => b.conn), [0, 1]);
    assert.ok(s.time.now() - t0 >= 2000, 'not before the stall');
    held[0]();
    assert.equal(decode(await settle(stuck, s.time, 10, 500, true)).questions[0].name, 'stuck.example');
  });

  it('takes back a question stopped before its batch goes, and sends nothing if none is left', async () => {
    const s = setup(realRelay(), { batchWindowMs: 10 });
    const stop = new AbortController();
    const gone = s.ask('a.example', 1, 4000, stop.signal);
    const kept = s.ask('b.example', 2);
    stop.abort();
    await rejectsWith(gone, s.time, ErrorCode.upstreamAborted);
    await until(kept, s.time);
    assert.deepEqual((await itemsOf(batches(s.seen)[0])).map((i) => decode(i.q!).questions[0].name), ['b.example']);
    const alone = new AbortController();
    const p = s.ask('c.example', 3, 4000, alone.signal);
    alone.abort();
    await rejectsWith(p, s.time, ErrorCode.upstreamAborted);
    s.time.advance(50);
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(batches(s.seen).length, 1);
  });

  it('refuses a query over per_item_max_wire_bytes at once, without sending it', async () => {
    const s = setup(realRelay(), { limits: { ...DEFAULT_RELAY_CLIENT.limits, per_item_max_wire_bytes: 512 } });
    const big = new Uint8Array(600);
    big.set(query('a.example', 'A', { id: 1 }));
    await rejectsWith(s.t.exchange(big, 4000), s.time, ErrorCode.upstreamRelayItem, /per_item_max_wire_bytes/);
    assert.equal(s.seen.length, 0);
  });
});

describe('relay client: partial success and failures', () => {
  it('fails only the items the relay failed; the rest of the batch is answered', async () => {
    const s = setup(realRelay({ fail: (n) => n === 'bad.example' }));
    const [good, bad, other] = [s.ask('good.example', 1), s.ask('bad.example', 2), s.ask('other.example', 3)];
    const e = await rejectsWith(bad, s.time, ErrorCode.upstreamRelayItem, /timeout/);
    assert.ok(e);
    assert.equal(addressOf(await until(good, s.time)), '192.0.2.77');
    assert.equal(addressOf(await until(other, s.time)), '192.0.2.77');
    assert.equal(s.counters.relay_item_errors, 1);
  });

  it('fails the whole batch on 401, with the reason logged once, and on 413 and 5xx as HTTP failures', async () => {
    for (const [status, why] of [
      [401, /refused the token \(HTTP 401\)/],
      [413, /too large \(HTTP 413/],
      [503, /HTTP 503/],
    ] as const) {
      const s = setup(() => new Response('no', { status }));
      const asked = await until(Promise.allSettled([s.ask('a.example', 1), s.ask('b.example', 2)]), s.time);
      for (const r of asked) {
        assert.equal(r.status, 'rejected');
        assert.ok(isHoldfastError(r.reason, ErrorCode.upstreamHttp));
        assert.match(r.reason.message, why);
      }
      assert.equal(s.counters.upstream_http_errors, 1, `one request for HTTP ${status}`);
      if (status === 401) {
        await rejectsWith(s.ask('c.example', 3), s.time, ErrorCode.upstreamHttp);
        assert.equal(s.events.filter((e) => /token/.test(e.message)).length, 1, 'logged once, not per batch');
      }
    }
  });

  it('fails the whole batch when the response breaks the protocol: wrong version, a missing item, another request id, bad base64, bad gzip', async () => {
    const cases: Array<[string, (body: { id: string; items: { id: string }[] }) => Response]> = [
      ['wrong version', (b) => json(200, JSON.stringify({ v: 2, id: b.id, items: [] }))],
      ['missing item', (b) => json(200, encodeRelayResponse({ id: b.id, items: [] }))],
      ['another request', (b) => json(200, encodeRelayResponse({ id: `${b.id}x`, items: b.items.map((i): RelayResultItem => ({ id: i.id, ok: false, err: 'timeout' })) }))],
      ['bad base64', (b) => json(200, JSON.stringify({ v: 1, id: b.id, items: b.items.map((i) => ({ id: i.id, ok: true, a: 'not base64!' })) }))],
      ['bad gzip', () => json(200, 'not gzip at all', { 'content-encoding': 'gzip' })],
    ];
    for (const [what, respond] of cases) {
      const s = setup(async (r) => respond(decodeRelayRequest(new Uint8Array(await r.arrayBuffer())) as never));
      await rejectsWith(s.ask('a.example', 1), s.time, ErrorCode.upstreamHttp, /broke protocol v1/);
      assert.equal(s.counters.upstream_bad_replies, 1, what);
    }
  });

  it('fails an item whose answer is for another question', async () => {
    const s = setup(async (r) => {
      const b = decodeRelayRequest(new Uint8Array(await r.arrayBuffer()));
      return json(200, encodeRelayResponse({ id: b.id, items: b.items.map((i) => ({ id: i.id, ok: true as const, a: answerFor(query('elsewhere.example', 'A', { id: decode(i.q!).id })) })) }));
    });
    await rejectsWith(s.ask('a.example', 1), s.time, ErrorCode.upstreamBadReply, /another question/);
    assert.equal(s.counters.upstream_mismatched_replies, 1);
  });

  it('a slow relay: each question times out at its own deadline, and a late response is not mistaken for the next', async () => {
    let hold: Array<() => void> = [];
    const s = setup(async (r) => {
      const body = new Uint8Array(await r.arrayBuffer());
      await new Promise<void>((go) => hold.push(go));
      return realRelay()(new Request('http://relay.example/relay/v1/dns', { method: 'POST', body: ab(body) }));
    });
    await rejectsWith(s.ask('slow.example', 1, 300), s.time, ErrorCode.upstreamTimeout, /within 300 ms/);
    // The batch's own time-out closed its connection; the next question goes on a new one.
    const next = s.ask('next.example', 2, 4000);
    for (let i = 0; i < 200 && hold.length < 2; i++) {
      s.time.advance(1);
      await new Promise((r) => setTimeout(r, 0));
    }
    assert.equal(hold.length, 2, 'both batches reached the relay');
    for (const go of hold) go();
    hold = [];
    const r = await until(next, s.time);
    assert.equal(decode(r).questions[0].name, 'next.example');
    const conns = batches(s.seen).map((b) => b.conn);
    assert.equal(new Set(conns).size, 2, 'the timed-out batch took its connection with it');
  });
});

describe('relay client: token and info check', () => {
  it('sends the URL token, else the configured one, as a bearer token', async () => {
    const s = setup(realRelay({ token: 'from-url' }), {}, `${URL.replace('#', '?token=from-url#')}`);
    await until(s.ask('a.example'), s.time);
    assert.equal(batches(s.seen)[0].headers.get('authorization'), 'Bearer from-url');
    const c = setup(realRelay({ token: 'configured' }), { token: 'configured' });
    await until(c.ask('a.example'), c.time);
    assert.equal(batches(c.seen)[0].headers.get('authorization'), 'Bearer configured');
  });

  it('require: a relay that fits passes; 401, another version, a missing limit or smaller limits refuse it, naming why', async () => {
    const ok = setup(realRelay({ token: 't' }), { infoCheck: 'require', token: 't' });
    await until(ok.t.preflight!(), ok.time);
    assert.equal(ok.seen[0].path, '/relay/v1/info');
    assert.equal(ok.seen[0].method, 'GET');

    const refusals: Array<[Handler, RegExp, Partial<RelayClientSettings>?]> = [
      [realRelay({ token: 'right' }), /HTTP 401: the token is not accepted/, { token: 'wrong' }],
      [() => json(200, JSON.stringify({ v: 2, limits: DEFAULT_RELAY_LIMITS, auth_required: false })), /speaks version 2/],
      [() => json(200, JSON.stringify({ v: 1, limits: { ...DEFAULT_RELAY_LIMITS, max_items: undefined }, auth_required: false })), /max_items is missing/],
      [() => json(200, encodeRelayInfo({ ...DEFAULT_RELAY_LIMITS, max_items: 8 }, false)), /client max_items 32 is larger than the relay's 8/],
      [() => json(200, encodeRelayInfo(DEFAULT_RELAY_LIMITS, true)), /requires a token and none is set/],
      [() => new Response('nope', { status: 404 }), /HTTP 404: no relay protocol v1/],
    ];
    for (const [handler, why, extra] of refusals) {
      const s = setup(handler, { infoCheck: 'require', ...extra });
      const e = await rejectsWith(s.t.preflight!(), s.time, ErrorCode.config, why);
      assert.match(e.message, /relayUpstream\.infoCheck = "require"/);
      // Refused for good: questions fail at once, nothing is sent.
      const before = s.seen.length;
      await rejectsWith(s.ask('a.example'), s.time, ErrorCode.upstreamHttp, /refused/);
      assert.equal(s.seen.length, before);
    }
  });

  it('warn: logs what does not fit and goes on, with batches cut to the relay\'s smaller limits', async () => {
    const s = setup((r) => (r.method === 'GET' ? json(200, encodeRelayInfo({ ...DEFAULT_RELAY_LIMITS, max_items: 2 }, false)) : realRelay()(r)), { infoCheck: 'warn', batchWindowMs: 50 });
    await until(s.t.preflight!(), s.time);
    assert.equal(s.events.length, 1);
    assert.match(s.events[0].message, /max_items 32 is larger than the relay's 2.*used anyway/);
    await until(Promise.all(Array.from({ length: 5 }, (_, i) => s.ask(`w${i}.example`, i + 1))), s.time);
    assert.deepEqual(await Promise.all(batches(s.seen).map(async (b) => (await itemsOf(b)).length)), [2, 2, 1]);
  });

  it('a slow info check does not hold the start: it goes on behind, and a refusal then applies', async () => {
    const held: Array<() => void> = [];
    const s = setup(
      async () => {
        await new Promise<void>((go) => held.push(go));
        return json(200, JSON.stringify({ v: 2, limits: DEFAULT_RELAY_LIMITS, auth_required: false }));
      },
      { infoCheck: 'require' },
    );
    const started = s.time.now();
    await until(s.t.preflight!(), s.time);
    assert.equal(s.time.now() - started >= 2000 && s.time.now() - started < 2100, true, `started after ${s.time.now() - started} ms of fake time`);
    assert.match(s.events[0].message, /has not answered its info check within 2000 ms/);
    assert.equal(held.length, 1, 'the check reached the relay');
    held[0]();
    await until(new Promise((r) => setTimeout(r, 20)), s.time);
    await rejectsWith(s.ask('a.example'), s.time, ErrorCode.upstreamHttp, /refused: relay speaks version 2/);
  });

  it('a relay out of reach at start is not refused; it is checked before its next batch once reachable', async () => {
    let up = false;
    const s = setup((r) => (up ? (r.method === 'GET' ? INFO() : realRelay()(r)) : new Response('down', { status: 502 })), { infoCheck: 'require' });
    await until(s.t.preflight!(), s.time);
    assert.match(s.events[0].message, /could not be checked/);
    up = true;
    s.time.advance(30_000);
    await until(s.ask('a.example'), s.time);
    assert.deepEqual(
      s.seen.map((x) => `${x.method} ${x.path}`),
      ['GET /relay/v1/info', 'GET /relay/v1/info', 'POST /relay/v1/dns'],
    );
    assert.match(s.events.at(-1)!.message, /passed its info check/);
  });
});
