import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createNameLabels, createNameSetBuilder, readLabels, ruleText } from '../../../src/pipeline/block/name-set.ts';
import { loadBlockList } from '../../../src/pipeline/block/load.ts';
import { textToName } from '../../../src/core/wire/names.ts';

const enc = (text: string) => new TextEncoder().encode(text);

/** The rule blocking `name` in the list, as text, or null. */
function ruleFor(text: string, name: string): string | null {
  const { list } = loadBlockList('test', enc(text));
  const l = createNameLabels();
  assert.ok(readLabels(textToName(name), 0, l));
  const r = list.set.find(l);
  return r < 0 ? null : ruleText(list.set.kindAt(r), list.set.nameAt(r)) + ` @${list.set.lineAt(r)}`;
}

describe('#14 - block list parser', () => {
  it('reads hosts lines with every blocking address, one name and no subdomains', () => {
    const text = '0.0.0.0 ads.example\n127.0.0.1 track.example other.example\n:: six.example\n::1 loop.example\n';
    assert.equal(ruleFor(text, 'ads.example'), '0.0.0.0 ads.example @1');
    assert.equal(ruleFor(text, 'other.example'), '127.0.0.1 other.example @2');
    assert.equal(ruleFor(text, 'six.example'), ':: six.example @3');
    assert.equal(ruleFor(text, 'loop.example'), '::1 loop.example @4');
    assert.equal(ruleFor(text, 'sub.ads.example'), null);
    assert.equal(ruleFor(text, 'example'), null);
  });

  it('blocks a plain domain and an adblock ||name^ with every name under it', () => {
    const text = 'plain.example\n||adb.example^\n||pipe.example^|\n';
    assert.equal(ruleFor(text, 'a.b.plain.example'), 'plain.example @1');
    assert.equal(ruleFor(text, 'x.adb.example'), '||adb.example^ @2');
    assert.equal(ruleFor(text, 'pipe.example'), '||pipe.example^ @3');
    assert.equal(ruleFor(text, 'notplain.example'), null, 'a suffix must start at a label');
    assert.equal(ruleFor(text, 'example'), null);
  });

  it('matches names in any letter case, and keeps the wider rule of a name given twice', () => {
    const text = '0.0.0.0 Dup.Example\ndup.example\n';
    assert.equal(ruleFor(text, 'SUB.dup.EXAMPLE'), 'dup.example @2');
    const { list } = loadBlockList('t', enc(text));
    assert.equal(list.set.size, 1);
  });

  it('collects @@||name^ exceptions, skips comments, and counts unsupported rules', () => {
    const text = [
      '[Adblock Plus 2.0]',
      '! a comment',
      '# another',
      '@@||good.example^',
      '||third.example^$third-party',
      '/ads[0-9]+\\.example/',
      'example.com##.banner',
      '||example.com/ads/*',
      '192.168.1.1 router.example',
      '0.0.0.0 inline.example # trailing comment',
      '*.wild.example',
    ].join('\n');
    const { list, report } = loadBlockList('t', enc(text));
    assert.deepEqual(report.exceptions, ['good.example']);
    assert.equal(report.unsupported, 6);
    assert.equal(report.badCount, 0);
    assert.equal(report.names, 1);
    assert.equal(list.set.size, 1);
  });

  it('skips the housekeeping names of a hosts file header and single labels', () => {
    const text = '127.0.0.1 localhost\n::1 localhost ip6-localhost\n127.0.0.1 localhost.localdomain\n0.0.0.0 0.0.0.0\ncom\n';
    const { list, report } = loadBlockList('t', enc(text));
    assert.equal(list.set.size, 0);
    assert.equal(report.badCount, 1, 'a lone top-level domain is refused');
    assert.equal(report.bad[0].line, 5);
  });

  it('loads a list of 100k lines with 3 bad ones, reporting each bad line by number', () => {
    const lines: string[] = [];
    for (let i = 0; i < 100_000; i++) lines.push(i % 2 ? `0.0.0.0 host${i}.example` : `||host${i}.example^`);
    lines[10] = 'not a rule at all';
    lines[5_000] = '0.0.0.0 bad..example';
    lines[99_998] = 'spaß.example';
    const { list, report } = loadBlockList('big.txt', enc(lines.join('\r\n')));
    assert.equal(report.badCount, 3);
    assert.deepEqual(report.bad.map((b) => b.line), [11, 5_001, 99_999]);
    assert.equal(list.set.size, 99_997);
    assert.equal(report.lines, 100_000);
  });

  it('keeps names apart whose hashes share a slot, and finds each (collision check)', () => {
    const b = createNameSetBuilder();
    const names: string[] = [];
    for (let i = 0; i < 5_000; i++) names.push(`n${i}.x${i % 7}.example`);
    names.forEach((n, i) => b.addText(n, 4, i + 1));
    const set = b.build();
    assert.equal(set.size, 5_000);
    const l = createNameLabels();
    for (const [i, n] of names.entries()) {
      readLabels(textToName(`www.${n}`), 0, l);
      const r = set.find(l);
      assert.equal(set.nameAt(r), n);
      assert.equal(set.lineAt(r), i + 1);
    }
    readLabels(textToName('n5000.x0.example'), 0, l);
    assert.equal(set.find(l), -1);
  });
});
