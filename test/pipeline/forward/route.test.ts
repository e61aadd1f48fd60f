import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, Next, Request } from '../../../src/core/answer.ts';
import { createCounters } from '../../../src/core/counters.ts';
import { ErrorCode, HoldfastError } from '../../../src/core/errors.ts';
import { createHandle } from '../../../src/core/handle.ts';
import { scanMessage, toStored } from '../../../src/core/wire/message.ts';
import { nameToText } from '../../../src/core/wire/names.ts';
import { createRebindFilter, isRebindAddress, REBIND_NODATA_TTL_SECONDS } from '../../../src/pipeline/forward/rebind.ts';
import { parseQuery } from '../../../src/core/wire/query.ts';
import { createRouter } from '../../../src/pipeline/forward/route.ts';
import { parseForwardZone, parseForwardZones } from '../../../src/pipeline/forward/zones.ts';
import { decode, query, reply, type Decoded } from '../../helpers/packets.ts';

/** A fake upstream stage answering every A query with `addresses`, recording what it was asked. */
function upstream(label: string, addresses: string[], asked: string[]): Next {
  return (req: Request): Answer => {
    asked.push(nameToText(req.query.bytes, 12));
    const name = nameToText(req.query.bytes, 12).replace(/\.$/, '');
    const bytes = reply(req.query.bytes, { answers: addresses.map((data) => ({ name, type: data.includes(':') ? 'AAAA' : 'A', ttl: 300, class: 'IN', data }) as never) });
    const scan = scanMessage(bytes);
    assert.ok(typeof scan !== 'string');
    const message = toStored(bytes, scan, 86400);
    return { source: 'upstream', reason: `${label} in 1 ms`, rcode: message.rcode, message, ageSeconds: 0 };
  };
}

function rig(o: { zones?: Record<string, string[]>; main?: string[]; rebind?: boolean; allow?: string[] }) {
  const asked: Record<string, string[]> = { main: [] };
  const zones = Object.entries(o.zones ?? {}).map(([text, addresses]) => {
    const zone = parseForwardZone(text);
    asked[zone.name] = [];
    return { zone, next: upstream(zone.upstreams[0].label, addresses, asked[zone.name]) };
  });
  const counters = createCounters();
  const blocked: string[] = [];
  const router = createRouter(
    {
      main: upstream('udp://192.0.2.53:53', o.main ?? ['192.0.2.1'], asked.main),
      zones,
      rebind: createRebindFilter({ enabled: o.rebind ?? true, allow: o.allow ?? [] }),
      onRebindBlocked: (name, removed) => blocked.push(`${name} ${removed}`),
    },
    counters,
  );
  let last: Answer | null = null;
  const handle = createHandle(router.next, counters, { onAnswered: (h) => (last = h.answer) });
  return {
    asked,
    counters,
    blocked,
    router,
    async ask(name: string, type = 'A'): Promise<Decoded & { source: string; reason: string }> {
      const bytes = await handle(query(name, type), { address: '192.168.1.20', port: 5000, transport: 'udp' });
      assert.ok(bytes);
      return { ...decode(bytes), source: last!.source, reason: last!.reason };
    },
  };
}

describe('forward zones: parsing', () => {
  it('#14 - reads DOMAIN=URL[,URL...] with any upstream scheme', () => {
    const z = parseForwardZone('Corp.Example.=udp://10.8.0.1,tls://10.8.0.2#dns.corp.example');
    assert.equal(z.name, 'corp.example.');
    assert.deepEqual(
      z.upstreams.map((u) => u.protocol),
      ['udp', 'tls'],
    );
  });

  it('#14 - refuses a bad value with a config error that names it', () => {
    for (const bad of ['corp.example', '=udp://10.8.0.1', 'corp.example=', 'bad..name=udp://10.0.0.1', 'corp.example=ftp://10.0.0.1']) {
      assert.throws(
        () => parseForwardZone(bad),
        (e: unknown) => e instanceof HoldfastError && e.code === ErrorCode.config && e.message.includes(`"${bad}"`),
        bad,
      );
    }
    assert.throws(() => parseForwardZones(['a.example=udp://10.0.0.1', 'A.example.=udp://10.0.0.2']), /given twice/);
  });
});

describe('forward zones: routing', () => {
  it('#14 - sends names at or under a zone to its upstreams only, the longest zone winning, tagged forward-zone', async () => {
    const r = rig({ zones: { 'corp.example=udp://10.8.0.1': ['10.8.1.1'], 'lab.corp.example=udp://10.9.0.1': ['10.9.1.1'] } });
    const a = await r.ask('corp.example');
    assert.equal(a.source, 'forward-zone');
    assert.match(a.reason, /^corp\.example\. udp:\/\/10\.8\.0\.1/);
    assert.equal(a.answers[0].data, '10.8.1.1');
    assert.equal((await r.ask('host.lab.corp.example')).answers[0].data, '10.9.1.1');
    assert.equal((await r.ask('www.CORP.example')).answers[0].data, '10.8.1.1');
    // Only on a label boundary: notcorp.example is not under corp.example.
    assert.equal((await r.ask('notcorp.example')).source, 'upstream');
    assert.deepEqual(r.asked.main, ['notcorp.example.']);
    assert.deepEqual(r.asked['lab.corp.example.'], ['host.lab.corp.example.']);
    assert.equal(r.counters.answers_forward_zone, 3);
  });

  it('#14 - explains which zone and upstreams a name goes to', () => {
    const r = rig({ zones: { '168.192.in-addr.arpa=udp://192.168.1.1': [] } });
    const e = r.router.explain('10.1.168.192.in-addr.arpa');
    assert.equal(e?.stage, 'forward-zone');
    assert.equal(e?.answers, true);
    assert.match(e!.text, /168\.192\.in-addr\.arpa\..*udp:\/\/192\.168\.1\.1/);
  });
});

describe('rebind protection', () => {
  it('#14 - knows the private, loopback, link-local, ULA, unspecified and mapped addresses, and passes public ones', () => {
    const v4 = (s: string) => Uint8Array.from(s.split('.').map(Number));
    for (const a of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '127.0.0.1', '169.254.1.1', '0.0.0.0']) assert.equal(isRebindAddress(1, v4(a)), true, a);
    for (const a of ['172.32.0.1', '172.15.0.1', '192.169.0.1', '8.8.8.8', '100.64.0.1']) assert.equal(isRebindAddress(1, v4(a)), false, a);
    const v6 = (first: number[], last: number[] = []) => {
      const b = new Uint8Array(16);
      b.set(first);
      b.set(last, 16 - last.length);
      return b;
    };
    assert.equal(isRebindAddress(28, v6([])), true, '::');
    assert.equal(isRebindAddress(28, v6([], [1])), true, '::1');
    assert.equal(isRebindAddress(28, v6([0xfd, 0x12])), true, 'fd12::');
    assert.equal(isRebindAddress(28, v6([0xfe, 0x80])), true, 'fe80::');
    assert.equal(isRebindAddress(28, v6([], [0xff, 0xff, 192, 168, 0, 1])), true, '::ffff:192.168.0.1');
    assert.equal(isRebindAddress(28, v6([0x20, 0x01, 0x0d, 0xb8])), false, '2001:db8::');
  });

  it('#14 - takes LAN addresses out of a main upstream answer before it goes up, and counts it', async () => {
    const r = rig({ main: ['192.168.1.5', '203.0.113.7'] });
    const a = await r.ask('mixed.example');
    assert.equal(a.rcode, 'NOERROR');
    assert.deepEqual(
      a.answers.map((x) => x.data),
      ['203.0.113.7'],
    );
    assert.match(a.reason, /rebind protection removed 1 LAN address/);
    assert.equal(r.counters.rebind_blocked, 1);
    assert.deepEqual(r.blocked, ['mixed.example. 1']);
  });

  it('#11 - finds a LAN address read in place: after a CNAME, in AAAA, with compressed owners; passes a public answer untouched', () => {
    const filter = createRebindFilter({ enabled: true, allow: [] });
    const q = query('www.example.org', 'A');
    const parsed = parseQuery(q);
    assert.ok(parsed.ok);
    const stored = (answers: unknown[]) => {
      const bytes = reply(q, { answers: answers as never });
      const scan = scanMessage(bytes);
      assert.ok(typeof scan !== 'string');
      return toStored(bytes, scan, 86400);
    };
    const cname = { name: 'www.example.org', type: 'CNAME', ttl: 60, class: 'IN', data: 'edge.example.net' };
    const lan = stored([cname, { name: 'edge.example.net', type: 'AAAA', ttl: 60, class: 'IN', data: 'fd00::1' }, { name: 'edge.example.net', type: 'A', ttl: 60, class: 'IN', data: '203.0.113.7' }]);
    assert.equal(filter.filter(parsed.query, lan).removed, 1);
    const mapped = stored([cname, { name: 'edge.example.net', type: 'AAAA', ttl: 60, class: 'IN', data: '::ffff:10.1.2.3' }]);
    assert.equal(filter.filter(parsed.query, mapped).removed, 1);
    const outside = stored([cname, { name: 'edge.example.net', type: 'AAAA', ttl: 60, class: 'IN', data: '2001:db8::1' }, { name: 'edge.example.net', type: 'A', ttl: 60, class: 'IN', data: '203.0.113.7' }]);
    const kept = filter.filter(parsed.query, outside);
    assert.equal(kept.removed, 0);
    assert.equal(kept.message, outside, 'the same message, not a copy');
  });

  it('#14 - answers NOERROR with no data when nothing is left, never SERVFAIL', async () => {
    const r = rig({ main: ['192.168.1.5', '10.0.0.1'] });
    const a = await r.ask('evil.example');
    assert.equal(a.rcode, 'NOERROR');
    assert.equal(a.answers.length, 0);
    assert.equal(r.counters.rebind_blocked, 1);
  });

  it('#14 - leaves forward zones, --rebind-allow domains and --rebind-protection off alone', async () => {
    const r = rig({ main: ['192.168.1.5'], zones: { 'corp.example=udp://10.8.0.1': ['10.8.1.1'] }, allow: ['plex.direct'] });
    assert.equal((await r.ask('nas.corp.example')).answers[0].data, '10.8.1.1');
    assert.equal((await r.ask('x-192-168-1-5.abc.plex.direct')).answers[0].data, '192.168.1.5');
    assert.equal(r.counters.rebind_blocked, 0);
    assert.match(r.router.explain('a.plex.direct')!.text, /--rebind-allow plex\.direct/);
    const off = rig({ main: ['192.168.1.5'], rebind: false });
    assert.equal((await off.ask('lan.example')).answers[0].data, '192.168.1.5');
    assert.equal(off.router.explain('lan.example'), null);
  });

  describe('#14 - what is left is cacheable (RFC 2308 §5)', () => {
    const filter = createRebindFilter({ enabled: true, allow: [] });
    const strip = (name: string, o: Parameters<typeof reply>[1]) => {
      const q = query(name, 'A');
      const parsed = parseQuery(q);
      assert.ok(parsed.ok);
      const bytes = reply(q, o);
      const scan = scanMessage(bytes);
      assert.ok(typeof scan !== 'string');
      return filter.filter(parsed.query, toStored(bytes, scan, 86400));
    };
    const soa = (name: string, ttl: number, minimum: number) =>
      ({ name, type: 'SOA', ttl, class: 'IN', data: { mname: 'ns.example', rname: 'host.example', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum } }) as never;

    it('a NODATA without the upstream SOA is kept for REBIND_NODATA_TTL_SECONDS, even when the addresses had TTL 0', () => {
      const r = strip('evil.example', { answers: [{ name: 'evil.example', type: 'A', ttl: 0, class: 'IN', data: '192.168.1.1' } as never] });
      assert.equal(r.removed, 1);
      assert.equal(r.message.answerCount, 0);
      assert.equal(r.message.negativeTtl, REBIND_NODATA_TTL_SECONDS);
    });

    it("keeps the upstream's SOA and its negative TTL, min(TTL, MINIMUM)", () => {
      const r = strip('evil.example', {
        answers: [{ name: 'evil.example', type: 'A', ttl: 30, class: 'IN', data: '10.0.0.1' } as never],
        authorities: [soa('example', 900, 120)],
      });
      assert.equal(r.message.answerCount, 0);
      assert.equal(r.message.negativeTtl, 120);
      assert.equal(decode(r.message.wire).authorities[0].type, 'SOA');
    });

    it('a partial answer is kept no longer than the original: a long-lived CNAME left alone does not lengthen it', () => {
      const r = strip('www.evil.example', {
        answers: [
          { name: 'www.evil.example', type: 'CNAME', ttl: 3600, class: 'IN', data: 'lan.evil.example' } as never,
          { name: 'lan.evil.example', type: 'A', ttl: 5, class: 'IN', data: '192.168.1.1' } as never,
        ],
      });
      assert.equal(r.message.answerCount, 1);
      assert.equal(r.message.minAnswerTtl, 5);
    });
  });
});
