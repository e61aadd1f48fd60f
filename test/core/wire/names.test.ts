import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endOfName, endOfPlainName, NameError, nameKey, nameToText, sameName, textToName } from '../../../src/core/wire/names.ts';

/** A message whose name starts at offset 12, after a zeroed header. */
function at12(...bytes: number[]): Uint8Array {
  return Uint8Array.from([...new Array(12).fill(0), ...bytes]);
}

/** Wire form of labels given as lengths: label(3) is "aaa". */
function labels(...lengths: number[]): number[] {
  return lengths.flatMap((n) => [n, ...new Array(n).fill(0x61)]);
}

describe('endOfPlainName', () => {
  it('returns the offset just past the root byte', () => {
    assert.equal(endOfPlainName(at12(0), 12), 13);
    assert.equal(endOfPlainName(at12(...labels(3, 7), 0, 0, 1), 12), 12 + 4 + 8 + 1);
  });

  it('accepts a 63-byte label and rejects the reserved 0x40 and 0x80 label types', () => {
    assert.equal(endOfPlainName(at12(...labels(63), 0), 12), 12 + 64 + 1);
    assert.equal(endOfPlainName(at12(64, ...new Array(64).fill(0x61), 0), 12), NameError.badLabelType);
    assert.equal(endOfPlainName(at12(0x80, 0), 12), NameError.badLabelType);
  });

  it('accepts a name of exactly 255 bytes and rejects one of 256', () => {
    // 4 labels of 63 bytes = 256 bytes with their length bytes: too long before the root.
    assert.equal(endOfPlainName(at12(...labels(63, 63, 63, 63), 0), 12), NameError.nameTooLong);
    // 3 x 64 + 62 + root = 255 bytes.
    const ok = at12(...labels(63, 63, 63, 61), 0);
    assert.equal(endOfPlainName(ok, 12), 12 + 255);
    const over = at12(...labels(63, 63, 63, 62), 0);
    assert.equal(endOfPlainName(over, 12), NameError.nameTooLong);
  });

  it('rejects any compression pointer, even a valid-looking one', () => {
    assert.equal(endOfPlainName(at12(0xc0, 0x0c), 12), NameError.pointer);
    assert.equal(endOfPlainName(at12(1, 0x61, 0xc0, 0x0c), 12), NameError.pointer);
  });

  it('calls a name without its root byte truncated, and a label running past the end too', () => {
    assert.equal(endOfPlainName(at12(3, 0x61, 0x61, 0x61), 12), NameError.truncated);
    assert.equal(endOfPlainName(at12(5, 0x61), 12), NameError.truncated);
    assert.equal(endOfPlainName(at12(), 12), NameError.truncated);
  });
});

describe('endOfName', () => {
  it('ends a name at a pointer that points backwards past the header', () => {
    const b = at12(...labels(3), 0, 1, 0x62, 0xc0, 12);
    assert.equal(endOfName(b, 17), 21);
  });

  it('rejects pointers into the header, to itself and forwards (no loops possible)', () => {
    assert.equal(endOfName(at12(0xc0, 0x00), 12), NameError.badPointer, 'into the header');
    assert.equal(endOfName(at12(0xc0, 12), 12), NameError.badPointer, 'to itself');
    assert.equal(endOfName(at12(1, 0x61, 0xc0, 13), 12), NameError.badPointer, 'into its own labels');
    assert.equal(endOfName(at12(0xc0, 20, 0, 0, 0, 0, 0, 0, 0), 12), NameError.badPointer, 'forwards');
  });

  it('follows a chain of pointers that each point further back', () => {
    // 12: "a" root; 15: "b" + pointer to 12; 19: "c" + pointer to 15.
    const b = at12(1, 0x61, 0, 1, 0x62, 0xc0, 12, 1, 0x63, 0xc0, 15);
    assert.equal(endOfName(b, 19), 23);
  });

  it('#2 - rejects a pointer chain that loops through an earlier pointer (RFC 1035 §4.1.4)', () => {
    // 12: root; 13: pointer to 15; 15: pointer to 13. The name at 17 points back to 13.
    const b = at12(0, 0xc0, 15, 0xc0, 13, 0xc0, 13);
    assert.equal(endOfName(b, 17), NameError.badPointer);
  });

  it('#2 - rejects a pointer to a name that runs on past the pointer (found by the fuzzer)', () => {
    // 12: "a" root; 15: a label of 2 (16..17) with no root after it; 18: a pointer to 15.
    // Read from 15, the name runs on through the pointer at 18 that led there.
    const b = at12(1, 0x61, 0, 2, 0x62, 0x63, 0xc0, 15, 0);
    assert.equal(endOfName(b, 18), NameError.badPointer);
    // The same label with its own root ends before the pointer: fine.
    const ok = at12(1, 0x61, 0, 2, 0x62, 0x63, 0, 0xc0, 15);
    assert.equal(endOfName(ok, 19), 21);
  });

  it('asks which bytes are rewritten only for the parts reached through pointers', () => {
    const b = at12(1, 0x61, 0, 1, 0x62, 0xc0, 12);
    const asked: string[] = [];
    assert.equal(endOfName(b, 15, (from, to) => (asked.push(`${from}-${to}`), false)), 19);
    assert.deepEqual(asked, ['12-15']);
    assert.equal(endOfName(b, 15, (from) => from === 12), NameError.pointerIntoRewritten);
  });

  it('#2 - rejects a name over 255 bytes put together from pointers', () => {
    const part = labels(63, 63, 63); // 192 bytes, no root
    const b = at12(...part, 0, ...labels(63), 0xc0, 12);
    assert.equal(endOfName(b, 12), 12 + 193, 'the first part alone is fine');
    assert.equal(endOfName(b, 12 + 193), NameError.nameTooLong);
  });

  it('calls a pointer missing its second byte truncated', () => {
    assert.equal(endOfName(at12(1, 0x61, 0xc0), 12), NameError.truncated);
  });

  it('rejects reserved label types and over-long names', () => {
    assert.equal(endOfName(at12(0x40, 0), 12), NameError.badLabelType);
    assert.equal(endOfName(at12(...labels(63, 63, 63, 63, 10), 0), 12), NameError.nameTooLong);
  });
});

describe('nameKey and sameName', () => {
  it('folds ASCII letters only, so keys match case-insensitively (RFC 4343)', () => {
    const upper = textToName('WWW.Example.ORG');
    const lower = textToName('www.example.org');
    assert.equal(nameKey(upper, 0, upper.length), nameKey(lower, 0, lower.length));
    // 0xC9 ("É" in Latin-1) is not ASCII: not folded to 0xE9.
    const b1 = Uint8Array.from([1, 0xc9, 0]);
    const b2 = Uint8Array.from([1, 0xe9, 0]);
    assert.notEqual(nameKey(b1, 0, 3), nameKey(b2, 0, 3));
    assert.equal(sameName(b1, 0, b2, 0, 3), false);
  });

  it('compares names at different offsets ignoring case', () => {
    const a = Uint8Array.from([9, 9, ...textToName('Foo.Example')]);
    const b = textToName('fOO.exAMPLE');
    assert.equal(sameName(a, 2, b, 0, b.length), true);
    const c = textToName('fOO.exAMPLF');
    assert.equal(sameName(a, 2, c, 0, c.length), false);
  });

  it('does not fold the bytes next to the letter range ("@" and "[")', () => {
    const at = Uint8Array.from([1, 0x40, 0]);
    const grave = Uint8Array.from([1, 0x60, 0]);
    assert.equal(sameName(at, 0, grave, 0, 3), false);
    assert.notEqual(nameKey(Uint8Array.from([1, 0x5b, 0]), 0, 3), nameKey(Uint8Array.from([1, 0x7b, 0]), 0, 3));
  });
});

describe('nameToText and textToName', () => {
  it('round-trips ordinary names and keeps the letter case', () => {
    for (const text of ['www.Example.org.', 'a.', 'xn--bcher-kva.example.']) assert.equal(nameToText(textToName(text), 0), text);
  });

  it('writes the root as "." and accepts it with or without the dot', () => {
    assert.deepEqual([...textToName('.')], [0]);
    assert.deepEqual([...textToName('')], [0]);
    assert.equal(nameToText(Uint8Array.from([0]), 0), '.');
  });

  it('escapes dots, backslashes and unprintable bytes inside labels', () => {
    const b = Uint8Array.from([4, 0x61, 0x2e, 0x5c, 0x07, 0]);
    assert.equal(nameToText(b, 0), 'a\\.\\\\\\007.');
  });

  it('stops at the end of a truncated name instead of reading past it', () => {
    assert.equal(nameToText(Uint8Array.from([5, 0x61, 0x62]), 0), 'ab.');
  });

  it('throws on an empty label, a 64-byte label and a name over 255 bytes', () => {
    assert.throws(() => textToName('a..b'), RangeError);
    assert.throws(() => textToName(`${'a'.repeat(64)}.example`), RangeError);
    assert.doesNotThrow(() => textToName(`${'a'.repeat(63)}.example`));
    const long = Array.from({ length: 4 }, () => 'a'.repeat(63)).join('.');
    assert.throws(() => textToName(long), RangeError);
    const justFits = [...Array.from({ length: 3 }, () => 'a'.repeat(63)), 'a'.repeat(61)].join('.');
    assert.equal(textToName(justFits).length, 255);
  });
});
