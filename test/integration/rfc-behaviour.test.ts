// What a client relies on from a DNS server (RFC 1035, 6891, 7766, 8482), checked against a
// running Holdfast in front of a real NSD, with dig and kdig where they can ask the question and
// raw bytes where they cannot.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { dig, kdig, tcpExchange, lengthPrefixed, udpExchange } from '../helpers/dns-client.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { startNsd, type Nsd } from '../helpers/nsd.ts';
import { startFakeUpstream, plans, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { decode, encode, query, type Answer, type Packet } from '../helpers/packets.ts';

// Eight 80-byte strings: about 800 bytes of answer, more than 512 and less than 1232.
const BIG_TXT_COUNT = 8;
const bigTxt = Array.from({ length: BIG_TXT_COUNT }, (_, i) => `big IN TXT "${String(i).repeat(80)}"`).join('\n');

const ZONE = {
  name: 'example.test',
  records: [
    'www IN A 192.0.2.10',
    'mixed IN A 192.0.2.11',
    bigTxt,
  ].join('\n'),
};

/** `query(...)` with the header's opcode field set. */
function withOpcode(bytes: Uint8Array, opcode: number): Uint8Array {
  const out = bytes.slice();
  out[2] = (out[2] & 0x87) | (opcode << 3);
  return out;
}

/** Whether this machine has IPv6 loopback (containers often do not). */
async function hasIpv6Loopback(): Promise<boolean> {
  const s = dgram.createSocket('udp6');
  const ok = await new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(0, '::1', () => resolve(true));
  });
  s.close();
  return ok;
}
const IPV6 = await hasIpv6Loopback();

function optOf(bytes: Uint8Array): { udpPayloadSize?: number; extendedRcode?: number; ednsVersion?: number } | undefined {
  return decode(bytes).additionals.find((r) => r.type === 'OPT') as { udpPayloadSize?: number; extendedRcode?: number } | undefined;
}

describe('RFC behaviour a client relies on', () => {
  let nsd: Nsd;
  let hf: HoldfastProcess;
  before(async () => {
    nsd = await startNsd([ZONE]);
    hf = await startHoldfast(['--upstream', `udp://127.0.0.1:${nsd.port}`]);
  });
  after(async () => {
    await hf?.stop();
    await nsd?.stop();
  });

  describe('header and question', () => {
    it('echoes the ID and the question exactly as the client spelt it, with QR and RA set', async () => {
      const r = await udpExchange(hf.port, query('MiXeD.ExAmPlE.tEsT', 'A', { id: 0xbeef }));
      assert.ok(r, 'no reply');
      const d = decode(r);
      assert.equal(d.id, 0xbeef);
      assert.equal(d.flag_qr, true);
      assert.equal(d.flag_ra, true);
      assert.equal(d.flag_rd, true);
      assert.equal(d.rcode, 'NOERROR');
      assert.deepEqual(d.questions, [{ name: 'MiXeD.ExAmPlE.tEsT', type: 'A', class: 'IN' }]);
      assert.deepEqual(
        d.answers.map((a) => a.data),
        ['192.0.2.11'],
      );
    });

    it('keeps each client\'s letter case when the answer comes from the cache', async () => {
      // The first query above filled the cache; this spelling must not come back as that one.
      for (const [id, spelling] of [[0x0101, 'mixed.example.test'], [0x0202, 'MIXED.EXAMPLE.TEST']] as const) {
        const r = await udpExchange(hf.port, query(spelling, 'A', { id }));
        assert.ok(r, 'no reply');
        const d = decode(r);
        assert.equal(d.id, id);
        assert.equal(d.questions[0].name, spelling);
        assert.equal(d.answers[0]?.data, '192.0.2.11');
      }
    });

    it('answers dig with flags qr rd ra and the zone\'s address', async () => {
      const r = await dig(hf.port, ['www.example.test', 'A']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /status: NOERROR/);
      assert.match(r.stdout, /flags: qr rd ra[;\s]/);
      assert.match(r.stdout, /^www\.example\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.10$/m);
    });

    it('answers QDCOUNT 0 with FORMERR', async () => {
      const bytes = encode({ type: 'query', id: 0x0a0a, flags: 0x100, questions: [] } as Packet);
      const r = await udpExchange(hf.port, bytes);
      assert.ok(r, 'no reply');
      const d = decode(r);
      assert.equal(d.id, 0x0a0a);
      assert.equal(d.flag_qr, true);
      assert.equal(d.rcode, 'FORMERR');
    });

    it('answers QDCOUNT 2 with FORMERR', async () => {
      const bytes = encode({
        type: 'query',
        id: 0x0b0b,
        flags: 0x100,
        questions: [
          { name: 'www.example.test', type: 'A', class: 'IN' },
          { name: 'mixed.example.test', type: 'A', class: 'IN' },
        ],
      } as Packet);
      const r = await udpExchange(hf.port, bytes);
      assert.ok(r, 'no reply');
      const d = decode(r);
      assert.equal(d.id, 0x0b0b);
      assert.equal(d.rcode, 'FORMERR');
      assert.equal(d.answers.length, 0);
    });

    it('answers an opcode other than QUERY with NOTIMP', async () => {
      for (const opcode of [1, 2, 4, 5]) {
        const r = await udpExchange(hf.port, withOpcode(query('www.example.test', 'A', { id: 0x0c00 + opcode, edns: false }), opcode));
        assert.ok(r, `no reply to opcode ${opcode}`);
        const d = decode(r);
        assert.equal(d.id, 0x0c00 + opcode);
        assert.equal(d.rcode, 'NOTIMP', `opcode ${opcode}`);
        assert.equal((r[2] >> 3) & 0x0f, opcode, 'the opcode is echoed');
      }
    });

    it('answers dig +opcode=status with NOTIMP', async () => {
      const r = await dig(hf.port, ['+opcode=status', 'www.example.test']);
      assert.match(r.stdout, /opcode: STATUS, status: NOTIMP/);
    });

    it('sends nothing back for a packet with QR=1, and goes on answering', async () => {
      const response = encode({
        type: 'response',
        id: 0x0d0d,
        flags: 0x8180,
        questions: [{ name: 'www.example.test', type: 'A', class: 'IN' }],
        answers: [{ type: 'A', name: 'www.example.test', ttl: 60, class: 'IN', data: '192.0.2.99' } as Answer],
      } as Packet);
      assert.equal(await udpExchange(hf.port, response, 600), null);
      const r = await udpExchange(hf.port, query('www.example.test', 'A', { id: 0x0d0e }));
      assert.equal(r && decode(r).id, 0x0d0e);
    });
  });

  describe('EDNS (RFC 6891)', () => {
    it('returns an OPT record to a query that carried one', async () => {
      const r = await udpExchange(hf.port, query('www.example.test', 'A', { edns: 1232 }));
      assert.ok(r, 'no reply');
      const opt = optOf(r);
      assert.ok(opt, 'no OPT in the reply');
      assert.equal(decode(r).additionals.filter((a) => a.type === 'OPT').length, 1);
      const k = await kdig(hf.port, ['+edns', 'www.example.test', 'A']);
      assert.match(k.stdout, /;; EDNS PSEUDOSECTION:/);
    });

    it('returns no OPT record to a query without one', async () => {
      const r = await udpExchange(hf.port, query('www.example.test', 'A', { edns: false }));
      assert.ok(r, 'no reply');
      assert.equal(optOf(r), undefined);
      assert.equal(decode(r).additionals.filter((a) => a.type === 'OPT').length, 0);
      const k = await dig(hf.port, ['+noedns', 'www.example.test', 'A']);
      assert.doesNotMatch(k.stdout, /OPT PSEUDOSECTION/);
      assert.match(k.stdout, /192\.0\.2\.10/);
    });

    it('answers EDNS version 1 with BADVERS and an OPT of version 0', async () => {
      const r = await dig(hf.port, ['+edns=1', '+noednsneg', 'www.example.test', 'A']);
      assert.match(r.stdout, /status: BADVERS/);
      assert.match(r.stdout, /EDNS: version: 0/);
      const raw = encode({
        type: 'query',
        id: 0x0e0e,
        flags: 0x100,
        questions: [{ name: 'www.example.test', type: 'A', class: 'IN' }],
        additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, ednsVersion: 1, flags: 0, options: [] } as unknown as Answer],
      } as Packet);
      const reply = await udpExchange(hf.port, raw);
      assert.ok(reply, 'no reply');
      const opt = optOf(reply);
      // BADVERS is 16: RCODE 0 in the header, 1 in the OPT's extended RCODE (RFC 6891 §6.1.3).
      assert.equal(reply[3] & 0x0f, 0);
      assert.equal(opt?.extendedRcode, 1);
      assert.equal(decode(reply).answers.length, 0);
    });
  });

  describe('reply sizes (RFC 1035 §4.2.1, RFC 6891 §6.2.5)', () => {
    it('sets TC=1 on a UDP reply over 512 bytes to a client without EDNS', async () => {
      const r = await udpExchange(hf.port, query('big.example.test', 'TXT', { edns: false }));
      assert.ok(r, 'no reply');
      assert.ok(r.length <= 512, `${r.length} bytes`);
      const d = decode(r);
      assert.equal(d.flag_tc, true);
      assert.equal(d.answers.length, 0);
      assert.equal(d.questions[0].name, 'big.example.test');
    });

    it('lets dig without EDNS retry over TCP and get every record', async () => {
      const r = await dig(hf.port, ['+noedns', 'big.example.test', 'TXT']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Truncated, retrying in TCP mode/);
      assert.match(r.stdout, new RegExp(`ANSWER: ${BIG_TXT_COUNT},`));
      assert.match(r.stdout, /\(TCP\)/);
    });

    it('sends the whole answer over UDP to a client advertising 1232 bytes', async () => {
      const r = await udpExchange(hf.port, query('big.example.test', 'TXT', { edns: 1232 }));
      assert.ok(r, 'no reply');
      assert.ok(r.length > 512 && r.length <= 1232, `${r.length} bytes`);
      const d = decode(r);
      assert.equal(d.flag_tc, false);
      assert.equal(d.answers.filter((a) => a.type === 'TXT').length, BIG_TXT_COUNT);
      const k = await dig(hf.port, ['+bufsize=1232', '+notcp', 'big.example.test', 'TXT']);
      assert.doesNotMatch(k.stdout, /Truncated/);
      assert.match(k.stdout, new RegExp(`ANSWER: ${BIG_TXT_COUNT},`));
    });

    it('truncates for a client advertising less than the answer needs', async () => {
      const r = await udpExchange(hf.port, query('big.example.test', 'TXT', { edns: 600 }));
      assert.ok(r, 'no reply');
      assert.ok(r.length <= 600, `${r.length} bytes`);
      assert.equal(decode(r).flag_tc, true);
    });
  });

  // Skipped, not failed, where there is no ::1 to listen on.
  if (IPV6) {
    describe('IPv6', () => {
      let v6: HoldfastProcess;
      before(async () => {
        v6 = await startHoldfast(['--listen', '[::1]:0', '--upstream', `udp://127.0.0.1:${nsd.port}`]);
      });
      after(async () => {
        await v6?.stop();
      });

      it('serves UDP and TCP on an IPv6 listener', async () => {
        for (const transport of ['+notcp', '+tcp']) {
          const r = await dig(v6.port, [transport, 'www.example.test', 'A', '+short'], '::1');
          assert.equal(r.stdout.trim(), '192.0.2.10', `${transport}: ${r.stdout}${r.stderr}`);
        }
      });
    });
  }

  describe('ANY (RFC 8482)', () => {
    // NSD 4 itself answers ANY with a single RRset over any transport, so a fake upstream with
    // a full ANY answer stands in for it here: what is checked is what Holdfast passes on.
    const multi: Answer[] = [
      { type: 'A', name: 'multi.any.test', ttl: 300, class: 'IN', data: '192.0.2.12' },
      { type: 'AAAA', name: 'multi.any.test', ttl: 300, class: 'IN', data: '2001:db8::12' },
      { type: 'MX', name: 'multi.any.test', ttl: 300, class: 'IN', data: { preference: 10, exchange: 'mail.any.test' } },
      { type: 'TXT', name: 'multi.any.test', ttl: 300, class: 'IN', data: 'several types' },
    ] as Answer[];
    let fake: FakeUpstream;
    let anyHf: HoldfastProcess;
    before(async () => {
      fake = await startFakeUpstream();
      fake.plan('multi.any.test', plans.answer({ answers: multi }));
      anyHf = await startHoldfast(['--upstream', fake.url.udp]);
    });
    after(async () => {
      await anyHf?.stop();
      await fake?.close();
    });

    it('answers ANY over UDP with one synthesised HINFO record, without asking upstream', async () => {
      const r = await udpExchange(anyHf.port, query('multi.any.test', 'ANY'));
      assert.ok(r, 'no reply');
      const d = decode(r);
      assert.equal(d.rcode, 'NOERROR');
      assert.equal(d.answers.length, 1);
      assert.equal(d.answers[0].type, 'HINFO');
      assert.deepEqual(d.answers[0].data, { cpu: 'RFC8482', os: '' });
      const k = await dig(anyHf.port, ['+notcp', 'multi.any.test', 'ANY']);
      assert.match(k.stdout, /HINFO\s+"RFC8482" ""/);
      assert.equal(fake.count('multi.any.test'), 0);
    });

    it('answers ANY over TCP with the upstream\'s records', async () => {
      const r = await dig(anyHf.port, ['+tcp', 'multi.any.test', 'ANY']);
      assert.equal(r.code, 0, r.stderr);
      for (const re of [/\sA\s+192\.0\.2\.12/, /\sAAAA\s+2001:db8::12/, /\sMX\s+10 mail\.any\.test\./, /\sTXT\s+"several types"/]) {
        assert.match(r.stdout, re);
      }
      assert.doesNotMatch(r.stdout, /RFC8482/);
      assert.equal(fake.count('multi.any.test'), 1);
      const raw = await tcpExchange(anyHf.port, [lengthPrefixed(query('multi.any.test', 'ANY', { id: 0x0f0f }))], 1);
      assert.equal(raw.replies.length, 1);
      const d = decode(raw.replies[0]);
      assert.equal(d.id, 0x0f0f);
      assert.equal(d.answers.length, 4);
    });
  });
});
