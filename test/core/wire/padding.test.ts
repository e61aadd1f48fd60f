import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PADDING_OPTION, padQuery } from '../../../src/core/wire/padding.ts';
import { upstreamQuery } from '../../../src/core/wire/reply.ts';
import { parseQuery } from '../../../src/core/wire/query.ts';
import { decode, query } from '../../helpers/packets.ts';

function ours(name: string): Uint8Array {
  const parsed = parseQuery(query(name, 'A'));
  if (!parsed.ok) throw new Error('test query did not parse');
  return upstreamQuery(parsed.query, 0x1234);
}

describe('padQuery (RFC 7830, RFC 8467 block padding)', () => {
  it('brings our upstream queries to a multiple of the block, as one Padding option of zeros', () => {
    for (const name of ['a.example', 'a-rather-longer-name.with.several.labels.example', `${'x'.repeat(63)}.${'y'.repeat(63)}.example`]) {
      const q = ours(name);
      const padded = padQuery(q, 128);
      assert.equal(padded.length % 128, 0, name);
      assert.ok(padded.length >= q.length + 4);
      const opt = decode(padded).additionals.find((a) => a.type === 'OPT') as unknown as { options: Array<{ code: number; data: Uint8Array }> };
      assert.equal(opt.options.length, 1);
      assert.equal(opt.options[0].code, PADDING_OPTION);
      assert.ok(opt.options[0].data.every((b) => b === 0));
      assert.deepEqual(padded.subarray(0, q.length - 2), q.subarray(0, q.length - 2), 'everything before the OPT RDLENGTH unchanged');
      assert.equal(decode(padded).questions[0].name, name);
    }
  });

  it('leaves a query without a trailing empty OPT, or a block of 0, as it is', () => {
    const q = ours('a.example');
    assert.equal(padQuery(q, 0), q);
    const plain = query('a.example', 'A', { edns: false });
    assert.equal(padQuery(plain, 128), plain);
    const once = padQuery(q, 128);
    assert.equal(padQuery(once, 128), once, 'an OPT that already has options is not touched');
  });
});
