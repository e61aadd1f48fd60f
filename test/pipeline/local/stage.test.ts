import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, Next, Request } from '../../../src/core/answer.ts';
import { createCounters } from '../../../src/core/counters.ts';
import { createHandle } from '../../../src/core/handle.ts';
import { scanMessage, toStored } from '../../../src/core/wire/message.ts';
import { nameToText } from '../../../src/core/wire/names.ts';
import { compose } from '../../../src/pipeline/chain.ts';
import { localStageOptions, NO_FILES, type LocalFileData } from '../../../src/pipeline/local/setup.ts';
import { createLocalStage } from '../../../src/pipeline/local/stage.ts';
import { parseHosts, parseLeases } from '../../../src/pipeline/local/sources.ts';
import { createFakeTime } from '../../helpers/fake-clock.ts';
import { decode, query, reply, soa, type Decoded } from '../../helpers/packets.ts';

const T0 = 1_700_000_000_000;

interface Rig {
  ask(name: string, type?: string): Promise<Decoded & { source: string; reason: string }>;
  /** Names that reached the stage below, as "name type". */
  readonly forwarded: string[];
  readonly time: ReturnType<typeof createFakeTime>;
}

function rig(o: { hosts?: string; leases?: string; records?: string[]; domain?: string; ttl?: number; exempt?: string[]; below?: (req: Request) => Answer } = {}): Rig {
  const time = createFakeTime(T0);
  const files: LocalFileData = {
    ...NO_FILES,
    hosts: o.hosts ? [{ file: '/etc/hosts', entries: parseHosts(o.hosts).entries }] : [],
    leases: o.leases ? [{ file: '/tmp/dhcp.leases', leases: parseLeases(o.leases).leases }] : [],
  };
  const settings = { records: o.records ?? [], domain: o.domain ?? 'lan', ttlSeconds: o.ttl ?? 60 };
  const local = createLocalStage(localStageOptions(settings, files, o.exempt), time);
  const forwarded: string[] = [];
  const below: Next = (req) => {
    forwarded.push(`${nameToText(req.query.bytes, 12)} ${req.query.qtype}`);
    if (o.below) return o.below(req);
    return { source: 'upstream', reason: 'fake', rcode: 0, message: null, ageSeconds: 0 };
  };
  let last: Answer | null = null;
  const handle = createHandle(compose([local.stage], below), createCounters(), { onAnswered: (h) => (last = h.answer) });
  return {
    forwarded,
    time,
    async ask(name, type = 'A') {
      const bytes = await handle(query(name, type), { address: '192.168.1.20', port: 5000, transport: 'udp' });
      assert.ok(bytes);
      return { ...decode(bytes), source: last?.source ?? 'failure', reason: last?.reason ?? '' };
    },
  };
}

/** What an upstream would say for `req`: `answers` in dns-packet form, compressed as dns-packet compresses. */
function upstreamAnswer(req: Request, answers: Parameters<typeof reply>[1]): Answer {
  const bytes = reply(req.query.bytes, answers);
  const scan = scanMessage(bytes);
  assert.ok(typeof scan !== 'string', String(scan));
  const message = toStored(bytes, scan, 86400);
  return { source: 'upstream', reason: 'fake upstream', rcode: message.rcode, message, ageSeconds: 0 };
}

const HOSTS = '192.168.1.10 nas nas-alias\nfd00::10 nas\n10.0.0.5 printer.lan\n0.0.0.0 blocked.example\n';

describe('#14 - local stage: hosts data', () => {
  it('answers A and AAAA for hosts names, bare and under the local domain, with the local TTL and its source', async () => {
    const r = rig({ hosts: HOSTS });
    const a = await r.ask('nas.lan', 'A');
    assert.equal(a.rcode, 'NOERROR');
    assert.deepEqual(a.answers.map((x) => [x.name, x.type, x.ttl, x.data]), [['nas.lan', 'A', 60, '192.168.1.10']]);
    assert.equal(a.source, 'local');
    assert.equal(a.reason, 'hosts /etc/hosts:1');
    const aaaa = await r.ask('NAS', 'AAAA');
    assert.deepEqual(aaaa.answers.map((x) => x.data), ['fd00::10']);
    assert.equal(aaaa.questions[0].name, 'NAS', "the client's spelling is echoed");
    assert.deepEqual((await r.ask('nas-alias.lan')).answers.map((x) => x.data), ['192.168.1.10']);
    assert.deepEqual(r.forwarded, []);
  });

  it('answers PTR for the addresses, naming the first name in full', async () => {
    const r = rig({ hosts: HOSTS });
    const p = await r.ask('10.1.168.192.in-addr.arpa', 'PTR');
    assert.deepEqual(p.answers.map((x) => [x.type, x.data]), [['PTR', 'nas.lan']]);
    const p6 = await r.ask(`0.1.${'0.'.repeat(28)}d.f.ip6.arpa`, 'PTR');
    assert.deepEqual(p6.answers.map((x) => x.data), ['nas.lan']);
    // A hosts file that blocks with 0.0.0.0 gives that address no PTR.
    const zero = await r.ask('0.0.0.0.in-addr.arpa', 'PTR');
    assert.equal(zero.rcode, 'NXDOMAIN');
  });

  it('gives NODATA with an SOA for other types of a local name, never forwarding it', async () => {
    const r = rig({ hosts: HOSTS, ttl: 30 });
    const t = await r.ask('nas.lan', 'TXT');
    assert.equal(t.rcode, 'NOERROR');
    assert.deepEqual(t.answers, []);
    assert.equal(t.authorities[0].type, 'SOA');
    assert.equal(t.authorities[0].name, 'lan');
    assert.equal((t.authorities[0].data as { minimum: number }).minimum, 30);
    assert.match(t.reason, /hosts \/etc\/hosts:1, no type 16 data/);
    const out = await r.ask('blocked.example', 'AAAA');
    assert.equal(out.rcode, 'NOERROR');
    assert.equal(out.authorities[0].name, 'blocked.example', 'outside our zones the SOA is the name itself');
    assert.deepEqual(r.forwarded, []);
  });
});

describe('#14 - local stage: the local domain and private reverse zones', () => {
  it('gives an unknown name under the local domain NXDOMAIN with the SOA, never forwarded', async () => {
    const r = rig({ hosts: HOSTS });
    const n = await r.ask('nothere.lan', 'A');
    assert.equal(n.rcode, 'NXDOMAIN');
    assert.deepEqual(n.authorities.map((x) => [x.name, x.type]), [['lan', 'SOA']]);
    assert.equal(n.reason, 'local-domain nxdomain');
    assert.equal(n.source, 'local');
    assert.deepEqual(r.forwarded, []);
  });

  it('gives NODATA, not NXDOMAIN, for a name with names under it and for the domain itself', async () => {
    const r = rig({ records: ['_sip._tcp.lan SRV 0 5 5060 nas.lan'] });
    assert.equal((await r.ask('_tcp.lan', 'A')).rcode, 'NOERROR');
    assert.equal((await r.ask('lan', 'A')).rcode, 'NOERROR');
    const s = await r.ask('lan', 'SOA');
    assert.deepEqual(s.answers.map((x) => x.type), ['SOA']);
    assert.deepEqual(r.forwarded, []);
  });

  it('with --local-domain none, passes unknown .lan names on', async () => {
    const r = rig({ hosts: HOSTS, domain: 'none' });
    await r.ask('nothere.lan', 'A');
    assert.deepEqual(r.forwarded, ['nothere.lan. 1']);
    // Bare names from the hosts file are still answered.
    assert.deepEqual((await r.ask('nas')).answers.map((x) => x.data), ['192.168.1.10']);
  });

  it('answers private reverse names with NXDOMAIN and the zone SOA when no local data has them', async () => {
    const r = rig({ hosts: HOSTS });
    for (const name of ['99.1.168.192.in-addr.arpa', '1.0.0.10.in-addr.arpa', '5.5.20.172.in-addr.arpa', '1.0.0.127.in-addr.arpa', '4.3.2.1.b.e.f.ip6.arpa']) {
      const p = await r.ask(name, 'PTR');
      assert.equal(p.rcode, 'NXDOMAIN', name);
      assert.equal(p.reason, 'private-reverse nxdomain');
      assert.equal(p.authorities[0].type, 'SOA');
    }
    assert.equal((await r.ask('99.1.168.192.in-addr.arpa', 'PTR')).authorities[0].name, '168.192.in-addr.arpa');
    assert.deepEqual(r.forwarded, []);
    // Public and not-private ranges go on: 172.32/12 is outside 172.16/12.
    await r.ask('8.8.8.8.in-addr.arpa', 'PTR');
    await r.ask('1.0.32.172.in-addr.arpa', 'PTR');
    assert.deepEqual(r.forwarded, ['8.8.8.8.in-addr.arpa. 12', '1.0.32.172.in-addr.arpa. 12']);
  });

  it('leaves a private reverse zone to a forward zone that covers it (exemptZones)', async () => {
    const r = rig({ exempt: ['1.168.192.in-addr.arpa'] });
    await r.ask('99.1.168.192.in-addr.arpa', 'PTR');
    await r.ask('99.2.168.192.in-addr.arpa', 'PTR');
    assert.deepEqual(r.forwarded, ['99.1.168.192.in-addr.arpa. 12', '99.2.168.192.in-addr.arpa. 12'], 'the whole 168.192 zone is left to the forward zone');
    assert.equal((await r.ask('1.0.0.10.in-addr.arpa', 'PTR')).rcode, 'NXDOMAIN', 'other private zones stay local');
  });

  it('passes names it has nothing to do with, and other classes, down the chain', async () => {
    const r = rig({ hosts: HOSTS });
    await r.ask('example.org', 'A');
    assert.deepEqual(r.forwarded, ['example.org. 1']);
  });
});

describe('#14 - local stage: CNAMEs', () => {
  it('follows a CNAME through local data for every type asked', async () => {
    const r = rig({ hosts: HOSTS, records: ['www.lan CNAME nas.lan', 'w2.lan CNAME www.lan'] });
    const a = await r.ask('w2.lan', 'A');
    assert.deepEqual(a.answers.map((x) => [x.name, x.type, x.data]), [
      ['w2.lan', 'CNAME', 'www.lan'],
      ['www.lan', 'CNAME', 'nas.lan'],
      ['nas.lan', 'A', '192.168.1.10'],
    ]);
    const aaaa = await r.ask('www.lan', 'AAAA');
    assert.deepEqual(aaaa.answers.map((x) => x.type), ['CNAME', 'AAAA']);
    const txt = await r.ask('www.lan', 'TXT');
    assert.deepEqual(txt.answers.map((x) => x.type), ['CNAME'], 'NODATA at the target keeps the chain');
    assert.equal((await r.ask('www.lan', 'CNAME')).answers.length, 1);
    assert.deepEqual(r.forwarded, []);
  });

  it('follows a CNAME to a name outside local data through the rest of the pipeline, and returns the whole chain', async () => {
    const r = rig({
      records: ['tv.lan CNAME cdn.example.com'],
      below: (req) =>
        upstreamAnswer(req, {
          answers: [
            { type: 'CNAME', name: 'cdn.example.com', ttl: 300, class: 'IN', data: 'edge.example.net' },
            { type: 'A', name: 'edge.example.net', ttl: 120, class: 'IN', data: '203.0.113.7' },
          ],
        }),
    });
    const a = await r.ask('tv.lan', 'A');
    assert.equal(a.rcode, 'NOERROR');
    assert.deepEqual(a.answers.map((x) => [x.name, x.type, x.ttl, x.data]), [
      ['tv.lan', 'CNAME', 60, 'cdn.example.com'],
      ['cdn.example.com', 'CNAME', 300, 'edge.example.net'],
      ['edge.example.net', 'A', 120, '203.0.113.7'],
    ]);
    assert.deepEqual(r.forwarded, ['cdn.example.com. 1'], 'only the target was asked');
    assert.match(a.reason, /^record, CNAME to cdn\.example\.com\. \(upstream: fake upstream\)$/);
  });

  it('keeps the target’s NXDOMAIN and its SOA after the CNAME', async () => {
    const r = rig({
      records: ['gone.lan CNAME gone.example.com'],
      below: (req) => upstreamAnswer(req, { rcode: 'NXDOMAIN', authorities: [soa('example.com', 900, 300)] }),
    });
    const a = await r.ask('gone.lan', 'A');
    assert.equal(a.rcode, 'NXDOMAIN');
    assert.deepEqual(a.answers.map((x) => x.type), ['CNAME']);
    assert.deepEqual(a.authorities.map((x) => [x.name, x.type]), [['example.com', 'SOA']]);
  });

  it('answers NXDOMAIN after a CNAME to an unknown local-domain name without forwarding', async () => {
    const r = rig({ records: ['a.lan CNAME missing.lan'] });
    const a = await r.ask('a.lan', 'A');
    assert.equal(a.rcode, 'NXDOMAIN');
    assert.deepEqual(a.answers.map((x) => x.type), ['CNAME']);
    assert.deepEqual(r.forwarded, []);
  });

  it('ends a CNAME loop with SERVFAIL instead of spinning', async () => {
    const r = rig({ records: ['x.lan CNAME y.lan', 'y.lan CNAME x.lan'] });
    assert.equal((await r.ask('x.lan', 'A')).rcode, 'SERVFAIL');
  });

  it('leaves out a record that clashes with a CNAME at the same name and says where it came from', () => {
    const o = localStageOptions({ records: ['x.lan CNAME y.lan', 'x.lan A 192.168.1.1'], domain: 'lan', ttlSeconds: 60 }, NO_FILES);
    assert.equal(o.conflicts.length, 1);
    assert.match(o.conflicts[0], /^record: x\.lan\. has a CNAME and other data/);
  });
});

describe('#14 - local stage: DHCP leases (injected clock)', () => {
  const leases = (expirySeconds: number) => `${expirySeconds} aa:bb:cc:dd:ee:ff 192.168.1.50 laptop 01:aa\n0 aa:bb:cc:dd:ee:00 192.168.1.51 tv *\n`;

  it('answers HOSTNAME.<local-domain> and the bare name with the PTR, the TTL capped by the lease', async () => {
    const r = rig({ leases: leases(T0 / 1000 + 45) });
    const a = await r.ask('laptop.lan');
    assert.deepEqual(a.answers.map((x) => [x.data, x.ttl]), [['192.168.1.50', 45]], 'never promised past the lease');
    assert.equal(a.reason, 'lease /tmp/dhcp.leases:1');
    assert.deepEqual((await r.ask('laptop')).answers.map((x) => x.data), ['192.168.1.50']);
    assert.deepEqual((await r.ask('50.1.168.192.in-addr.arpa', 'PTR')).answers.map((x) => x.data), ['laptop.lan']);
    assert.deepEqual((await r.ask('tv.lan')).answers.map((x) => x.ttl), [60], 'an infinite lease has the local TTL');
  });

  it('forgets a lease once it has expired', async () => {
    const r = rig({ leases: leases(T0 / 1000 + 45) });
    assert.equal((await r.ask('laptop.lan')).answers.length, 1);
    r.time.advance(46_000);
    assert.equal((await r.ask('laptop.lan')).rcode, 'NXDOMAIN');
    assert.equal((await r.ask('50.1.168.192.in-addr.arpa', 'PTR')).rcode, 'NXDOMAIN');
    assert.equal((await r.ask('tv.lan')).answers.length, 1);
  });

  it('puts new data in force at once on replace()', async () => {
    const time = createFakeTime(T0);
    const settings = { records: [], domain: 'lan', ttlSeconds: 60 };
    const local = createLocalStage(localStageOptions(settings, NO_FILES), time);
    const below: Next = () => ({ source: 'upstream', reason: 'x', rcode: 0, message: null, ageSeconds: 0 });
    const ask = async () => (await compose([local.stage], below)({ query: (await import('../../../src/core/wire/query.ts')).parseQuery(query('laptop.lan')).query!, client: { address: '::1', port: 1, transport: 'udp' } })).rcode;
    assert.equal(await ask(), 3);
    local.replace(localStageOptions(settings, { ...NO_FILES, leases: [{ file: 'l', leases: parseLeases(leases(0)).leases }] }));
    assert.equal(await ask(), 0);
  });
});

describe('#14 - local stage: copying another answer after a CNAME', () => {
  it('expands compressed names in owners and data, and counts TTLs down by the answer’s age', async () => {
    const { recordsOf } = await import('../../../src/pipeline/local/wire.ts');
    // cdn.example.com. A?  answer: <ptr q> CNAME edge.<ptr to example.com>; edge.<ptr> A 203.0.113.7
    const name = [3, 99, 100, 110, 7, ...'example'.split('').map((c) => c.charCodeAt(0)), 3, 99, 111, 109, 0];
    const q = [0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0, ...name, 0, 1, 0, 1];
    const exampleAt = 12 + 4; // "example.com" inside the question
    const cnameData = [4, 101, 100, 103, 101, 0xc0, exampleAt];
    const cnameAt = q.length + 12; // where "edge" starts in the first record's data
    const wire = Uint8Array.from([
      ...q,
      0xc0, 12, 0, 5, 0, 1, 0, 0, 1, 44, 0, cnameData.length, ...cnameData,
      0xc0, cnameAt, 0, 1, 0, 1, 0, 0, 0, 120, 0, 4, 203, 0, 113, 7,
    ]);
    const scan = scanMessage(wire);
    assert.ok(typeof scan !== 'string', String(scan));
    const { answer } = recordsOf(toStored(wire, scan, 86400), 20);
    const text = (b: Uint8Array) => nameToText(b, 0);
    assert.deepEqual(answer.map((r) => [text(r.owner), r.type, r.ttlSeconds]), [
      ['cdn.example.com.', 5, 280],
      ['edge.example.com.', 1, 100],
    ]);
    assert.equal(text(answer[0].rdata), 'edge.example.com.');
  });
});
