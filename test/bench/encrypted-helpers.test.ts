// The pure parts of `npm run bench`'s encrypted stage: the bench client's queries, DoT framing
// and HTTP/1.1 reading, the /metrics figure it counts connections with, and the table's
// per-column ratios. A wrong line here would skew the figures without failing the bench.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createFrameReader, createResponseReader, dohPost, frame, idOf, paddedQuery } from '../../build/bench/encrypted-wire.mjs';
import { metricValue } from '../../build/bench/metrics-text.mjs';
import { encryptedRows, tabulate } from '../../build/bench/report.mjs';
import { padQuery } from '../../src/core/wire/padding.ts';
import { parseQuery } from '../../src/core/wire/query.ts';
import { upstreamQuery } from '../../src/core/wire/reply.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

/** What report.mjs's tabulate() gives, which its plain JavaScript does not declare. */
interface Row {
  readonly label: string;
  readonly spreadPct: number | null;
  readonly cells: Record<string, { readonly text: string; readonly ratio: number | null }>;
}

describe('bench: encrypted stage helpers', () => {
  it("sends queries Holdfast reads as one A question with EDNS, padded to Holdfast's length", () => {
    for (const name of ['a.bench.test', 'tls-l2-19999.bench.test', `${'x'.repeat(63)}.bench.test`]) {
      const q = paddedQuery(0x1234, name);
      const parsed = parseQuery(q);
      assert.ok(parsed.ok, `not a query: ${JSON.stringify(parsed)}`);
      const query = parsed.query;
      assert.equal(query.id, 0x1234);
      assert.equal(query.rd, true);
      assert.equal(query.qtype, 1);
      assert.ok(query.edns, 'no OPT record');
      assert.equal(q.length % 128, 0);
      // What Holdfast itself sends upstream for this question over TLS.
      assert.equal(q.length, padQuery(upstreamQuery(query, 0x1234), 128).length);
    }
  });

  it('leaves the OPT record without a padding option when the block is 0', () => {
    const q = paddedQuery(7, 'a.bench.test', 0);
    assert.equal(q.length, 12 + 14 + 4 + 11);
    assert.ok(parseQuery(q).ok);
  });

  it('reads length-prefixed messages however the bytes are split', () => {
    const got: number[] = [];
    const reader = createFrameReader((m: Uint8Array) => got.push(idOf(m)));
    const all = Buffer.concat([frame(paddedQuery(1, 'a.test')), frame(paddedQuery(2, 'b.test')), frame(paddedQuery(3, 'c.test'))]);
    reader.push(all.subarray(0, 1));
    reader.push(all.subarray(1, 140));
    assert.deepEqual(got, [1]);
    reader.push(all.subarray(140));
    assert.deepEqual(got, [1, 2, 3]);
  });

  it('writes an RFC 8484 POST whose Content-Length is its body', () => {
    const body = paddedQuery(0, 'a.bench.test');
    const req = dohPost({ path: '/dns-query', authority: 'dns.bench.test', body });
    const split = req.indexOf('\r\n\r\n');
    const head = req.subarray(0, split).toString('latin1').split('\r\n');
    assert.equal(head[0], 'POST /dns-query HTTP/1.1');
    assert.ok(head.includes('Host: dns.bench.test'));
    assert.ok(head.includes('Content-Type: application/dns-message'));
    assert.ok(head.includes(`Content-Length: ${body.length}`));
    assert.deepEqual(req.subarray(split + 4), body);
  });

  it('reads keep-alive responses in order however they arrive, and notices Connection: close', () => {
    const got: Array<{ status: number; keepAlive: boolean; body: string }> = [];
    const errors: string[] = [];
    const reader = createResponseReader(
      (r: { status: number; keepAlive: boolean; body: Uint8Array }) => got.push({ status: r.status, keepAlive: r.keepAlive, body: Buffer.from(r.body).toString() }),
      (why: string) => errors.push(why),
    );
    const two = bytes('HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabcHTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    reader.push(two.subarray(0, 20));
    assert.equal(got.length, 0);
    reader.push(two.subarray(20, 40));
    reader.push(two.subarray(40));
    assert.deepEqual(got, [
      { status: 200, keepAlive: true, body: 'abc' },
      { status: 400, keepAlive: false, body: '' },
    ]);
    assert.deepEqual(errors, []);
  });

  it('gives up on a chunked body or a line that is not an HTTP status, once', () => {
    for (const text of ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 'SSH-2.0-OpenSSH\r\n\r\n']) {
      const errors: string[] = [];
      const reader = createResponseReader(() => assert.fail('no response expected'), (why: string) => errors.push(why));
      reader.push(bytes(text));
      reader.push(bytes(text));
      assert.equal(errors.length, 1, text);
    }
  });

  it('reads an unlabelled counter from /metrics, and NaN for one that is not there', () => {
    const text = [
      '# HELP holdfast_upstream_connections_total connections opened',
      '# TYPE holdfast_upstream_connections_total counter',
      'holdfast_upstream_connections_total_extra 9',
      'holdfast_upstream_connections_closed_total{reason="idle"} 4',
      'holdfast_upstream_connections_total 17',
      '',
    ].join('\n');
    assert.equal(metricValue(text, 'holdfast_upstream_connections_total'), 17);
    assert.ok(Number.isNaN(metricValue(text, 'holdfast_upstream_connect_failures_total')));
  });

  it('takes each column of the encrypted table as a ratio to its own reference, and none for connection counts', () => {
    const E = { concurrency: 10, trickleQps: 5, trickleNames: 25 };
    const phase = (qps: number, connectionsPerQuery?: number) => ({
      rounds: 2,
      spread: { qps: [qps * 0.9, qps * 1.1], connectionsPerQuery: [0, 0.001] },
      qps,
      connectionsPerQuery,
    });
    const results = {
      udp: { load: phase(10_000), trickle: {}, lost: 0 },
      reused: { load: phase(5_000, 0), trickle: {}, lost: 0 },
      clientReused: { load: phase(20_000, 0), trickle: {}, lost: 0 },
      clientFresh: { load: phase(500, 1), trickle: {}, lost: 3 },
    };
    const references = { udp: 'udp', reused: 'udp', clientReused: 'clientReused', clientFresh: 'clientReused' };
    const table: Row[] = tabulate(results, {}, references, encryptedRows(E));
    const row = (label: string): Row => table.find((r) => r.label === label) ?? assert.fail(`no row "${label}"`);
    const qps = row('misses, 10 in flight: QPS');
    assert.equal(qps.cells.reused.ratio, 0.5);
    assert.equal(qps.cells.clientFresh.ratio, 0.025);
    assert.equal(qps.cells.udp.ratio, 1);
    assert.equal(Math.round(qps.spreadPct ?? 0), 20);
    const conns = row('misses, 10 in flight: new connections per query');
    assert.equal(conns.cells.clientFresh.text, '1.00');
    assert.equal(conns.cells.clientFresh.ratio, null);
    assert.equal(conns.cells.udp.text, '-');
    // One reconnect in a thousand queries against none is not a 200% spread worth printing.
    assert.equal(conns.spreadPct, null);
    assert.equal(row('queries lost or not NOERROR (all phases)').cells.clientFresh.text, '3');
  });
});
