import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, ClientInfo, Next } from '../../../src/core/answer.ts';
import { parseQuery, type Query } from '../../../src/core/wire/query.ts';
import { renderStored } from '../../../src/core/wire/reply.ts';
import { loadBlockList } from '../../../src/pipeline/block/load.ts';
import { createBlockStage, type BlockAction } from '../../../src/pipeline/block/stage.ts';
import { explainName } from '../../../src/pipeline/explain.ts';
import { rawQuery } from '../../helpers/wire-build.ts';

function q(name: string, qtype = 1): Query {
  const r = parseQuery(rawQuery(name, { qtype }));
  if (!r.ok) throw new Error(r.problem);
  return r.query;
}

const client: ClientInfo = { address: '192.0.2.1', port: 1, transport: 'udp' };
const PASSED: Answer = { source: 'upstream', reason: 'passed on', rcode: 0, message: null, ageSeconds: 0 };
const LIST = '0.0.0.0 ads.example\n||tracker.example^\n@@||ok.tracker.example^\n';

function stage(action: BlockAction = 'null', allowNames: string[] = [], lists = [['ads.txt', LIST]]) {
  const s = createBlockStage({ action, allowNames });
  s.setLists(lists.map(([label, text]) => loadBlockList(label, new TextEncoder().encode(text)).list));
  let passed = 0;
  const next: Next = () => {
    passed++;
    return PASSED;
  };
  const ask = (name: string, qtype = 1) => s.stage({ query: q(name, qtype), client }, next) as Answer;
  return { s, ask, passed: () => passed };
}

describe('#14 - block stage', () => {
  it('answers A 0.0.0.0 and AAAA :: for a blocked name, no data for other types, naming list and rule', () => {
    const { ask, passed, s } = stage();
    const a = ask('x.tracker.example');
    assert.equal(a.source, 'blocked');
    assert.equal(a.reason, 'ads.txt: ||tracker.example^ (line 2)');
    const query = q('X.Tracker.example');
    const reply = renderStored(a.message!, query, 0, 512);
    assert.equal(reply[7], 1, 'one answer');
    assert.deepEqual([...reply.subarray(reply.length - 4)], [0, 0, 0, 0]);
    const aaaa = ask('ads.example', 28);
    assert.equal(aaaa.message!.answerCount, 1);
    assert.equal(aaaa.message!.wire.length, q('ads.example', 28).questionEnd + 12 + 16);
    const mx = ask('ads.example', 15);
    assert.equal(mx.rcode, 0);
    assert.equal(mx.message, null);
    assert.equal(passed(), 0, 'nothing blocked goes down the chain');
    assert.equal(s.lists[0].blocked, 3);
  });

  it('answers NXDOMAIN or REFUSED when the action says so', () => {
    assert.equal(stage('nxdomain').ask('ads.example').rcode, 3);
    assert.equal(stage('refused').ask('ads.example').rcode, 5);
  });

  it('passes on names not blocked, exceptions and --allow-name names with what is under them', () => {
    const { ask, passed } = stage('null', ['ads.example']);
    assert.equal(ask('example.org'), PASSED);
    assert.equal(ask('sub.ads.example'), PASSED, 'a hosts line blocks its own name only');
    assert.equal(ask('ads.example'), PASSED, '--allow-name');
    assert.equal(ask('a.ok.tracker.example'), PASSED, '@@ exception');
    assert.equal(passed(), 4);
  });

  it('answers NXDOMAIN for Firefox\'s canary while any list is set, and passes it on with none', () => {
    const { ask } = stage();
    const a = ask('use-application-dns.net');
    assert.equal(a.rcode, 3);
    assert.equal(a.source, 'blocked');
    assert.equal(stage('null', [], []).ask('use-application-dns.net'), PASSED);
  });

  it('names the first list that holds a name, and counts per list', () => {
    const { ask, s } = stage('null', [], [['one', 'one.example\n'], ['two', 'one.example\ntwo.example\n']]);
    assert.match(ask('one.example').reason, /^one: /);
    assert.match(ask('two.example').reason, /^two: /);
    assert.deepEqual(s.lists.map((l) => l.blocked), [1, 1]);
  });

  it('explains which list and rule blocks a name, or which exemption lets it through', () => {
    const { s } = stage('null', ['allowed.ads.example']);
    assert.deepEqual(explainName([s.explain], 'www.tracker.example', 1)[0], {
      stage: 'block',
      answers: true,
      text: 'blocked (A 0.0.0.0, AAAA ::, other types no data) by ads.txt: ||tracker.example^ (line 2)',
    });
    const allowed = explainName([s.explain], 'ok.tracker.example', 1);
    assert.equal(allowed[0].answers, false);
    assert.match(allowed[0].text, /allowed by the exception @@\|\|ok\.tracker\.example\^, though ads\.txt: \|\|tracker\.example\^ \(line 2\) would block it/);
    assert.equal(allowed[1].stage, 'upstream');
    assert.deepEqual(explainName([s.explain], 'example.org', 1).map((e) => e.stage), ['upstream']);
  });
});

describe('#14 - the most blocked names', () => {
  it('counts each blocked name (case folded), not names passed on nor the canary', () => {
    const { ask, s } = stage();
    for (const name of ['a.tracker.example', 'A.Tracker.example', 'a.tracker.example', 'ads.example', 'ok.tracker.example', 'www.example', 'use-application-dns.net']) ask(name);
    assert.deepEqual(s.topBlocked(10), [
      { name: 'a.tracker.example.', count: 3, error: 0 },
      { name: 'ads.example.', count: 1, error: 0 },
    ]);
    assert.equal(s.topBlocked(1).length, 1);
  });
});
