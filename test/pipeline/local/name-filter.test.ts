import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createNameFilter } from '../../../src/pipeline/local/name-filter.ts';
import { nameKeyOf } from '../../../src/pipeline/local/names.ts';
import { textToName } from '../../../src/core/wire/names.ts';

const key = (text: string) => nameKeyOf(text)!;
/** The name's wire form inside a message, at 12 as in a question. */
function at12(text: string): [Uint8Array, number, number] {
  const wire = textToName(text);
  const b = new Uint8Array(12 + wire.length + 4);
  b.set(wire, 12);
  return [b, 12, 12 + wire.length];
}

describe('#11 - name filter (what the stages above the cache may answer)', () => {
  const filter = createNameFilter([key('nas.lan'), key('printer.home.example')], [key('lan'), key('in-addr.arpa')]);
  const may = (text: string) => filter.mayHold(...at12(text));

  it('holds its names, in any letter case, and every name at or under its zones', () => {
    for (const n of ['nas.lan', 'NAS.Lan', 'printer.home.example', 'lan', 'ghost.lan', 'a.b.LAN', '5.0.0.10.in-addr.arpa', 'in-addr.arpa']) assert.equal(may(n), true, n);
  });

  it('does not hold other names: a parent of a name, a child of a name, a zone as a mere suffix of a label', () => {
    for (const n of ['home.example', 'x.printer.home.example', 'www.example', 'plan', 'lan.example', 'arpa', 'ip6.arpa']) assert.equal(may(n), false, n);
  });

  it('holds nothing when empty, and the root only when given it', () => {
    assert.equal(createNameFilter([], []).mayHold(...at12('nas.lan')), false);
    const root = new Uint8Array([0, 0, 1, 0, 1]);
    assert.equal(filter.mayHold(root, 0, 1), false);
    assert.equal(createNameFilter(['\0'], []).mayHold(root, 0, 1), true);
  });
});
