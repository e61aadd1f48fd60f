import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, Next, Request } from '../../../src/core/answer.ts';
import { createCounters } from '../../../src/core/counters.ts';
import { ErrorCode, HoldfastError } from '../../../src/core/errors.ts';
import { createHandle } from '../../../src/core/handle.ts';
import { scanMessage, toStored } from '../../../src/core/wire/message.ts';
import { nameToText } from '../../../src/core/wire/names.ts';
import { compose } from '../../../src/pipeline/chain.ts';
import { createRewriteStage, parseRewrite } from '../../../src/pipeline/rewrite/stage.ts';
import { decode, query, reply, type Decoded } from '../../helpers/packets.ts';

function rig(rules: string[]) {
  const forwarded: string[] = [];
  const below: Next = (req: Request): Answer => {
    const name = nameToText(req.query.bytes, 12);
    forwarded.push(name);
    const bytes = reply(req.query.bytes, { answers: [{ name: name.replace(/\.$/, ''), type: 'A', ttl: 300, class: 'IN', data: '203.0.113.9' } as never] });
    const scan = scanMessage(bytes);
    assert.ok(typeof scan !== 'string');
    const message = toStored(bytes, scan, 86400);
    return { source: 'upstream', reason: 'udp://192.0.2.53:53 in 3 ms', rcode: 0, message, ageSeconds: 0 };
  };
  const rewrite = createRewriteStage({ rules, ttlSeconds: 60 });
  const counters = createCounters();
  let last: Answer | null = null;
  const handle = createHandle(compose([rewrite.stage], below), counters, { onAnswered: (h) => (last = h.answer) });
  return {
    forwarded,
    counters,
    rewrite,
    async ask(name: string, type = 'A'): Promise<Decoded & { source: string; reason: string }> {
      const bytes = await handle(query(name, type), { address: '192.168.1.20', port: 5000, transport: 'udp' });
      assert.ok(bytes);
      return { ...decode(bytes), source: last!.source, reason: last!.reason };
    },
  };
}

describe('rewrite stage', () => {
  it('#14 - answers A with an IPv4 rule, and no data for AAAA and other types', async () => {
    const r = rig(['nas.example.com=192.168.1.10']);
    const a = await r.ask('NAS.example.com');
    assert.equal(a.source, 'rewrite');
    assert.equal(a.reason, 'nas.example.com=192.168.1.10');
    assert.equal(a.answers[0].data, '192.168.1.10');
    assert.equal(a.answers[0].ttl, 60);
    for (const type of ['AAAA', 'MX']) {
      const n = await r.ask('nas.example.com', type);
      assert.equal(n.rcode, 'NOERROR');
      assert.equal(n.answers.length, 0);
    }
    assert.equal((await r.ask('other.example.com')).source, 'upstream');
    assert.deepEqual(r.forwarded, ['other.example.com.']);
    assert.equal(r.counters.answers_rewrite, 3);
  });

  it('#14 - *.domain covers the names under it, not the domain itself; a name of its own wins', async () => {
    const r = rig(['*.cdn.example=2001:db8::1', 'img.cdn.example=192.0.2.4']);
    assert.equal((await r.ask('a.b.cdn.example', 'AAAA')).answers[0].data, '2001:db8::1');
    assert.equal((await r.ask('img.cdn.example')).answers[0].data, '192.0.2.4');
    assert.equal((await r.ask('cdn.example')).source, 'upstream');
  });

  it('#14 - a rule to a name answers the CNAME and then the target as the pipeline has it', async () => {
    const r = rig(['www.example.com=edge.example.net']);
    const a = await r.ask('www.example.com');
    assert.equal(a.source, 'rewrite');
    assert.deepEqual(
      a.answers.map((x) => `${x.name} ${x.type} ${x.data}`),
      ['www.example.com CNAME edge.example.net', 'edge.example.net A 203.0.113.9'],
    );
    assert.match(a.reason, /^www\.example\.com=edge\.example\.net \(upstream: udp:/);
    assert.deepEqual(r.forwarded, ['edge.example.net.']);
    // A CNAME question gets the CNAME alone.
    const c = await r.ask('www.example.com', 'CNAME');
    assert.equal(c.answers.length, 1);
    assert.deepEqual(r.forwarded, ['edge.example.net.']);
  });

  it('#14 - refuses a bad rule with a config error that names it, and explains a good one', () => {
    for (const bad of ['nothing', 'a..b=1.2.3.4', 'a.example=not a name', 'a.example=a.example']) {
      assert.throws(
        () => parseRewrite(bad),
        (e: unknown) => e instanceof HoldfastError && e.code === ErrorCode.config && e.message.includes(`"${bad}"`),
        bad,
      );
    }
    const r = rig(['*.ads.example=0.0.0.0']);
    const e = r.rewrite.explain('x.ads.example', 1);
    assert.equal(e?.stage, 'rewrite');
    assert.match(e!.text, /--rewrite \*\.ads\.example=0\.0\.0\.0/);
    assert.equal(r.rewrite.explain('ads.example', 1), null);
  });
});
