// The cache's byte bound through a real process: with a small --cache-memory, Holdfast keeps
// answering every name while the names it has cached are exactly as many as fit the bound.
// Which names are cached is read from outside: after the fill, NSD is restarted serving a new
// address, so an answer with the old address came from Holdfast's cache and one with the new
// address from upstream.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { scanMessage, toStored } from '../../src/core/wire/message.ts';
import { parseQuery } from '../../src/core/wire/query.ts';
import { entryBytes } from '../../src/pipeline/cache/store.ts';
import { udpExchange } from '../helpers/dns-client.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';
import { decode, query } from '../helpers/packets.ts';

const ZONE = 'mem.test';
const OLD = '192.0.2.1';
const NEW = '192.0.2.2';
const BOUND_BYTES = 64 * 1024;
// Same-length names, so every entry costs the same and the bound holds an exact number of them.
const NAMES = Array.from({ length: 1000 }, (_, i) => `n${1000 + i}.${ZONE}`);

const wildcard = (address: string) => ({ name: ZONE, records: `* IN A ${address}`, ttl: 3600 });

/**
 * Asks every name once over one UDP socket, `window` at a time, in order; resolves with each
 * name's rcode and first A address. Bounded: unanswered queries are given up after `timeoutMs`.
 */
function askAll(port: number, names: readonly string[], window = 20, timeoutMs = 20_000): Promise<Map<string, { rcode: string; address?: string }>> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const results = new Map<string, { rcode: string; address?: string }>();
    const pending = new Map<number, string>();
    let next = 0;
    const finish = () => {
      clearTimeout(timer);
      s.close();
      resolve(results);
    };
    const timer = setTimeout(finish, timeoutMs);
    const send = () => {
      while (pending.size < window && next < names.length) {
        const id = next & 0xffff;
        pending.set(id, names[next]);
        s.send(query(names[next], 'A', { id }), port, '127.0.0.1');
        next++;
      }
      if (pending.size === 0) finish();
    };
    s.on('message', (msg) => {
      const d = decode(new Uint8Array(msg));
      const name = pending.get(d.id);
      if (name === undefined) return;
      pending.delete(d.id);
      const a = d.answers.find((r) => r.type === 'A');
      results.set(name, { rcode: d.rcode, address: a?.data as string | undefined });
      send();
    });
    send();
  });
}

/** What one of NAMES costs in the cache, from NSD's own reply, the way Holdfast stores it. */
async function costOfOneName(nsdPort: number): Promise<number> {
  const q = query(NAMES[0], 'A');
  const reply = await udpExchange(nsdPort, q);
  assert.ok(reply, 'NSD answered');
  const scan = scanMessage(reply);
  assert.ok(typeof scan !== 'string', String(scan));
  const parsed = parseQuery(q);
  assert.ok(parsed.ok);
  return entryBytes(parsed.query.key, toStored(reply, scan, 86_400));
}

describe('cache byte bound in a running holdfast (--cache-memory)', () => {
  let nsd: Nsd;
  let small: HoldfastProcess;
  let roomy: HoldfastProcess;
  before(async () => {
    nsd = await startNsd([wildcard(OLD)]);
    small = await startHoldfast(['--upstream', `udp://127.0.0.1:${nsd.port}`, '--cache-memory', '64K']);
    // The control: the default bound holds every name.
    roomy = await startHoldfast(['--upstream', `udp://127.0.0.1:${nsd.port}`]);
  });
  after(async () => {
    await small?.stop();
    await roomy?.stop();
    await nsd?.stop();
  });

  it('answers every name while filling, then holds exactly as many as fit the bound: the most recent', async () => {
    const cost = await costOfOneName(nsd.port);
    const fits = Math.floor(BOUND_BYTES / cost);
    assert.ok(fits > 20 && fits < NAMES.length / 2, `${fits} entries fit: the test needs the bound to bind`);

    for (const hf of [small, roomy]) {
      // One at a time: with several in flight, upstream replies (and so cache inserts) may come
      // back out of order, and which names are the most recent would be a race.
      const filled = await askAll(hf.port, NAMES, 1);
      assert.equal(filled.size, NAMES.length, 'every fill query answered');
      for (const [name, r] of filled) assert.deepEqual(r, { rcode: 'NOERROR', address: OLD }, name);
    }

    // Same port, new data: from here on, upstream answers carry NEW.
    const port = nsd.port;
    await nsd.stop();
    nsd = await startNsd([wildcard(NEW)], { port });

    // Newest first: the hits come before any miss, and a miss evicts only names already asked.
    const newestFirst = [...NAMES].reverse();
    const probeSmall = await askAll(small.port, newestFirst);
    const probeRoomy = await askAll(roomy.port, newestFirst);
    assert.equal(probeSmall.size, NAMES.length, 'the small cache keeps serving');
    const cached = (m: Map<string, { rcode: string; address?: string }>) => newestFirst.filter((n) => m.get(n)?.address === OLD);
    for (const r of probeSmall.values()) assert.equal(r.rcode, 'NOERROR');

    assert.equal(cached(probeRoomy).length, NAMES.length, 'the control cache held every name');
    assert.deepEqual(cached(probeSmall), newestFirst.slice(0, fits), `the ${fits} most recent names, ${cost} bytes each, fill ${BOUND_BYTES}`);
  });
});
