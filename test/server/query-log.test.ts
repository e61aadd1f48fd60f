import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer } from '../../src/core/answer.ts';
import type { HandledQuery } from '../../src/core/handle.ts';
import { parseQuery } from '../../src/core/wire/query.ts';
import { createQueryLog } from '../../src/server/query-log.ts';
import { query } from '../helpers/packets.ts';

function handled(name: string, type: 'A' | 'AAAA', source: Answer['source'] | null, rcode = 0): HandledQuery {
  const parsed = parseQuery(query(name, type));
  if (!parsed.ok) throw new Error('bad query');
  const reply = new Uint8Array(12);
  reply[3] = rcode;
  return {
    query: parsed.query,
    client: { address: '192.168.1.20', port: 40000, transport: 'udp' },
    answer: source ? ({ source, reason: `from ${source}` } as Answer) : null,
    error: null,
    reply,
  };
}

describe('query log', () => {
  it('keeps the last N queries, newest first, with name, type, source, reason and rcode', () => {
    const log = createQueryLog(3);
    log.record(handled('a.example', 'A', 'upstream'), 1);
    log.record(handled('b.example', 'AAAA', 'cache-fresh'), 2);
    assert.deepEqual(log.recent(), [
      { timeMs: 2, client: '192.168.1.20', transport: 'udp', name: 'b.example.', type: 'AAAA', source: 'cache-fresh', reason: 'from cache-fresh', rcode: 'NOERROR' },
      { timeMs: 1, client: '192.168.1.20', transport: 'udp', name: 'a.example.', type: 'A', source: 'upstream', reason: 'from upstream', rcode: 'NOERROR' },
    ]);
  });

  it('drops the oldest once full, and honours a limit', () => {
    const log = createQueryLog(3);
    for (let i = 1; i <= 5; i++) log.record(handled(`n${i}.example`, 'A', 'upstream'), i);
    assert.deepEqual(log.recent().map((e) => e.timeMs), [5, 4, 3]);
    assert.deepEqual(log.recent(2).map((e) => e.timeMs), [5, 4]);
  });

  it('logs a failed query as failure with its rcode', () => {
    const log = createQueryLog(2);
    log.record(handled('x.example', 'A', null, 2), 1);
    assert.equal(log.recent()[0].source, 'failure');
    assert.equal(log.recent()[0].rcode, 'SERVFAIL');
  });
});

describe('#12 - the query log says how long the client waited and how stale an answer was', () => {
  it('records the wait of every answer, and the age past expiry and window of a stale one', () => {
    const log = createQueryLog(2);
    const stale = handled('s.example', 'A', 'cache-stale');
    log.record({ ...stale, answer: { ...stale.answer!, stale: { pastExpirySeconds: 420, windowSeconds: 3_600 } }, waitedMs: 1_800.04 }, 1);
    log.record({ ...handled('f.example', 'A', 'upstream'), waitedMs: 81.26 }, 2);
    const [fresh, old] = log.recent();
    assert.equal(fresh.waitedMs, 81.3);
    assert.equal(fresh.staleAgeSeconds, undefined);
    assert.equal(old.waitedMs, 1_800);
    assert.equal(old.staleAgeSeconds, 420);
    assert.equal(old.staleWindowSeconds, 3_600);
  });
});
