import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, HoldfastError } from '../../../src/core/errors.ts';
import { decodeRelayInfo, decodeRelayResponse, encodeBase64, encodeRelayRequest } from '../../../src/protocols/relay-v1.ts';
import { createRelayHandler, type RelayResolve } from '../../../src/server/relay/handler.ts';

const ab = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;
const query = (id: number, extra = 0) => new Uint8Array(12 + extra).map((_, i) => (i === 0 ? id >> 8 : i === 1 ? id & 0xff : 0));
/** Answers with the query, QR set; ID 0x0bad times out, 0x0bee fails. */
const echo: RelayResolve = async (q) => {
  const id = (q[0] << 8) | q[1];
  if (id === 0x0bad) throw new HoldfastError(ErrorCode.upstreamTimeout, 'slow');
  if (id === 0x0bee) throw new HoldfastError(ErrorCode.upstreamNetwork, 'down');
  const a = q.slice();
  a[2] |= 0x80;
  return a;
};

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await new Response(new Blob([ab(bytes)]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
}
async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await new Response(new Blob([ab(bytes)]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
}
function post(body: Uint8Array, headers: Record<string, string> = {}, path = '/v1/dns') {
  return new Request(`http://relay.test${path}`, { method: 'POST', body: ab(body), headers: { 'content-type': 'application/json', accept: 'application/json', ...headers } });
}

describe('relay server handler', () => {
  it('answers every item, partial success per item', async () => {
    const fetch = createRelayHandler({ resolve: echo });
    const body = encodeRelayRequest({ id: 'r1', items: [{ id: 'a', q: query(1) }, { id: 'b', q: query(0x0bad) }, { id: 'c', q: query(0x0bee) }, { id: 'd', q: new Uint8Array(3) }] });
    const res = await fetch(post(body));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const r = decodeRelayResponse(new Uint8Array(await res.arrayBuffer()), ['a', 'b', 'c', 'd']);
    assert.equal(r.id, 'r1');
    assert.deepEqual(
      r.items.map((i) => (i.ok ? 'ok' : i.err)),
      ['ok', 'timeout', 'upstream_error', 'bad_request'],
    );
    assert.equal(r.items[0].ok && r.items[0].a[2] & 0x80, 0x80);
  });

  it('an item with bad base64 or over per_item_max_wire_bytes fails alone', async () => {
    const fetch = createRelayHandler({ resolve: echo, limits: { max_items: 32, max_request_bytes: 65536, per_item_max_wire_bytes: 100, max_response_bytes: 262144 } });
    const json = JSON.stringify({ v: 1, id: 'x', items: [{ id: 'big', q: encodeBase64(query(1, 200)) }, { id: 'bad', q: 'A*==' }, { id: 'good', q: encodeBase64(query(2)) }] });
    const res = await fetch(post(new TextEncoder().encode(json)));
    const r = decodeRelayResponse(new Uint8Array(await res.arrayBuffer()), ['big', 'bad', 'good']);
    assert.deepEqual(
      r.items.map((i) => (i.ok ? 'ok' : i.err)),
      ['too_large', 'bad_request', 'ok'],
    );
  });

  it('gzip both ways; other or stacked codings are 415, bad gzip 400', async () => {
    const fetch = createRelayHandler({ resolve: echo });
    const body = encodeRelayRequest({ id: 'z', items: [{ id: 'a', q: query(7) }] });
    const res = await fetch(post(await gzip(body), { 'content-encoding': 'gzip', 'accept-encoding': 'gzip' }));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-encoding'), 'gzip');
    const r = decodeRelayResponse(await gunzip(new Uint8Array(await res.arrayBuffer())), ['a']);
    assert.equal(r.items[0].ok, true);
    assert.equal((await fetch(post(body, { 'content-encoding': 'br' }))).status, 415);
    assert.equal((await fetch(post(body, { 'content-encoding': 'gzip, gzip' }))).status, 415);
    assert.equal((await fetch(post(body, { 'content-encoding': 'gzip' }))).status, 400);
    const plainRes = await fetch(post(body, { 'accept-encoding': 'gzip;q=0' }));
    assert.equal(plainRes.headers.get('content-encoding'), null);
  });

  it('limits: too many items 400, too many bytes 413 (counted after decompression)', async () => {
    const fetch = createRelayHandler({ resolve: echo, limits: { max_items: 2, max_request_bytes: 2000, per_item_max_wire_bytes: 4096, max_response_bytes: 262144 } });
    const three = encodeRelayRequest({ id: 'x', items: [1, 2, 3].map((n) => ({ id: `${n}`, q: query(n) })) });
    assert.equal((await fetch(post(three))).status, 400);
    const big = encodeRelayRequest({ id: 'x', items: [{ id: 'a', q: query(1, 3000) }] });
    assert.equal((await fetch(post(big))).status, 413);
    assert.equal((await fetch(post(await gzip(big), { 'content-encoding': 'gzip' }))).status, 413);
  });

  it('the token: /v1/dns needs it; /v1/info says so and refuses a wrong one', async () => {
    const fetch = createRelayHandler({ resolve: echo, token: 's3cret', basePath: '/relay/' });
    const body = encodeRelayRequest({ id: 'x', items: [{ id: 'a', q: query(1) }] });
    assert.equal((await fetch(post(body, {}, '/relay/v1/dns'))).status, 401);
    assert.equal((await fetch(post(body, { authorization: 'Bearer nope' }, '/relay/v1/dns'))).status, 401);
    assert.equal((await fetch(post(body, { authorization: 'Bearer s3cret' }, '/relay/v1/dns'))).status, 200);
    const info = await fetch(new Request('http://relay.test/relay/v1/info'));
    assert.equal(info.status, 200);
    assert.equal(decodeRelayInfo(new Uint8Array(await info.arrayBuffer())).auth_required, true);
    assert.equal((await fetch(new Request('http://relay.test/relay/v1/info', { headers: { authorization: 'Bearer nope' } }))).status, 401);
    assert.equal((await fetch(post(body, { authorization: 'Bearer s3cret' }, '/v1/dns'))).status, 404);
  });

  it('bad JSON, a wrong version and a wrong method are refused', async () => {
    const fetch = createRelayHandler({ resolve: echo });
    assert.equal((await fetch(post(new TextEncoder().encode('{nope')))).status, 400);
    assert.equal((await fetch(post(new TextEncoder().encode('{"v":2,"id":"x","items":[]}')))).status, 400);
    assert.equal((await fetch(new Request('http://relay.test/v1/dns'))).status, 405);
    assert.equal((await fetch(new Request('http://relay.test/v2/info'))).status, 404);
  });

  it('answers that would pass max_response_bytes fail as too_large', async () => {
    const fetch = createRelayHandler({ resolve: echo, limits: { max_items: 32, max_request_bytes: 65536, per_item_max_wire_bytes: 4096, max_response_bytes: 3000 } });
    const body = encodeRelayRequest({ id: 'x', items: [1, 2, 3].map((n) => ({ id: `${n}`, q: query(n, 1000) })) });
    const res = await fetch(post(body));
    const bytes = new Uint8Array(await res.arrayBuffer());
    assert.ok(bytes.length <= 3000, `${bytes.length}`);
    const r = decodeRelayResponse(bytes, ['1', '2', '3']);
    assert.deepEqual(
      r.items.map((i) => (i.ok ? 'ok' : i.err)),
      ['ok', 'ok', 'too_large'],
    );
  });
});

describe('relay server: per-client rate limit', () => {
  it('#15 - answers an item over the client\'s limit with rate_limited, without resolving it', async () => {
    let resolved = 0;
    const allowed = new Map<string, number>([['192.0.2.1', 2]]);
    const fetch = createRelayHandler({
      resolve: (q, from) => {
        resolved++;
        return echo(q, from);
      },
      admitItem: (from) => {
        const left = allowed.get(from.address) ?? 0;
        allowed.set(from.address, left - 1);
        return left > 0;
      },
    });
    const body = encodeRelayRequest({ id: 'r', items: [1, 2, 3, 4].map((n) => ({ id: `i${n}`, q: query(n) })) });
    const res = await fetch(post(body), { address: '192.0.2.1', port: 1 });
    const r = decodeRelayResponse(new Uint8Array(await res.arrayBuffer()), ['i1', 'i2', 'i3', 'i4']);
    assert.deepEqual(r.items.map((i) => (i.ok ? 'ok' : i.err)).sort(), ['ok', 'ok', 'rate_limited', 'rate_limited']);
    assert.equal(resolved, 2);
  });
});
