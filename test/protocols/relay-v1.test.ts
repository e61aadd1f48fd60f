import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkRelayInfo,
  decodeBase64,
  decodeRelayInfo,
  decodeRelayRequest,
  decodeRelayResponse,
  DEFAULT_RELAY_LIMITS,
  encodeBase64,
  encodeRelayInfo,
  encodeRelayRequest,
  encodeRelayResponse,
  RelayProtocolError,
  relayEnvelopeBytes,
  relayItemBytes,
} from '../../src/protocols/relay-v1.ts';

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const text = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));

describe('relay codec', () => {
  it('encodes a request as the spec shows: v, id, items of id and base64 q', () => {
    const body = encodeRelayRequest({ id: 'r1', items: [{ id: 'a', q: new Uint8Array([1, 2, 3]) }, { id: 'b', q: new Uint8Array([255]) }] });
    assert.deepEqual(text(body), { v: 1, id: 'r1', items: [{ id: 'a', q: 'AQID' }, { id: 'b', q: '/w==' }] });
  });

  it('decodes a request, ignoring unknown fields and keeping meta', () => {
    const r = decodeRelayRequest(enc({ v: 1, id: 'x', extra: true, items: [{ id: '1', q: 'AQID', more: 1 }], meta: { client: 'c' } }));
    assert.equal(r.id, 'x');
    assert.deepEqual(r.items[0].q, new Uint8Array([1, 2, 3]));
    assert.deepEqual(r.meta, { client: 'c' });
  });

  it('keeps an item with bad base64 as undefined so only it fails', () => {
    const r = decodeRelayRequest(enc({ v: 1, id: 'x', items: [{ id: '1', q: 'AQ-D' }, { id: '2', q: 'AQID' }] }));
    assert.equal(r.items[0].q, undefined);
    assert.ok(r.items[1].q);
  });

  it('refuses a request of the wrong version, shape or with duplicate ids', () => {
    for (const bad of [{ v: 2, id: 'x', items: [] }, { v: 1, items: [] }, { v: 1, id: 'x' }, { v: 1, id: 'x', items: [{ q: 'AA==' }] }, { v: 1, id: 'x', items: [{ id: 'a', q: 'AA==' }, { id: 'a', q: 'AA==' }] }, [1]]) {
      assert.throws(() => decodeRelayRequest(enc(bad)), RelayProtocolError, JSON.stringify(bad));
    }
    assert.throws(() => decodeRelayRequest(new Uint8Array([0xff, 0xfe])), RelayProtocolError);
  });

  it('round-trips a response with partial success, in the order sent', () => {
    const body = encodeRelayResponse({ id: 'r', items: [{ id: 'b', ok: false, err: 'timeout' }, { id: 'a', ok: true, a: new Uint8Array([9]) }] });
    assert.deepEqual(text(body), { v: 1, id: 'r', items: [{ id: 'b', ok: false, err: 'timeout' }, { id: 'a', ok: true, a: 'CQ==' }] });
    const r = decodeRelayResponse(body, ['a', 'b']);
    assert.deepEqual(r.items, [{ id: 'a', ok: true, a: new Uint8Array([9]) }, { id: 'b', ok: false, err: 'timeout' }]);
  });

  it('refuses a response missing an item, of another version, or with loose base64', () => {
    assert.throws(() => decodeRelayResponse(enc({ v: 1, id: 'r', items: [{ id: 'a', ok: true, a: 'CQ==' }] }), ['a', 'b']), /"b"/);
    assert.throws(() => decodeRelayResponse(enc({ v: 2, id: 'r', items: [] }), []), /v=2/);
    assert.throws(() => decodeRelayResponse(enc({ v: 1, id: 'r', items: [{ id: 'a', ok: true, a: 'CQ' }] }), ['a']), /strict base64/);
    assert.throws(() => decodeRelayResponse(enc({ v: 1, id: 'r', items: [{ id: 'a', ok: true, a: 'C Q==' }] }), ['a']), /strict base64/);
    assert.throws(() => decodeRelayResponse(enc({ v: 1, id: 'r', items: [{ id: 'a' }] }), ['a']), /ok/);
  });

  it('base64 is standard and strict', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    assert.deepEqual(decodeBase64(encodeBase64(all)), all);
    assert.equal(decodeBase64('AQID\n'), null);
    assert.equal(decodeBase64('_w=='), null);
    assert.deepEqual(decodeBase64(''), new Uint8Array(0));
  });

  it('info: encodes the four limits and auth, and the check names each problem', () => {
    const info = decodeRelayInfo(encodeRelayInfo(DEFAULT_RELAY_LIMITS, true));
    assert.deepEqual(info, { v: 1, limits: DEFAULT_RELAY_LIMITS, auth_required: true });
    assert.deepEqual(checkRelayInfo(info, DEFAULT_RELAY_LIMITS), []);
    const odd = decodeRelayInfo(enc({ v: 2, limits: { max_items: 8, max_request_bytes: 0, per_item_max_wire_bytes: 4096 } }));
    const problems = checkRelayInfo(odd, DEFAULT_RELAY_LIMITS);
    assert.equal(problems.length, 4, problems.join('; '));
    assert.match(problems.join(';'), /version 2/);
    assert.match(problems.join(';'), /max_items 32 is larger than the relay's 8/);
    assert.match(problems.join(';'), /max_request_bytes is missing or not positive/);
    assert.match(problems.join(';'), /max_response_bytes is missing/);
  });

  it('size estimates are never below the real encoding', () => {
    const items = Array.from({ length: 5 }, (_, i) => ({ id: `i${i}`, q: new Uint8Array(30 + i) }));
    const real = encodeRelayRequest({ id: 'req-1', items }).length;
    const est = relayEnvelopeBytes('req-1') + items.reduce((s, i) => s + relayItemBytes(i.id, i.q.length), 0);
    assert.ok(est >= real && est - real <= 1, `${est} vs ${real}`);
  });
});
