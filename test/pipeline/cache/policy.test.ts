import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredMessage } from '../../../src/core/wire/message.ts';
import { cacheTtlSeconds, ReplyKind, replyKind, type CachePolicy } from '../../../src/pipeline/cache/policy.ts';

const POLICY: CachePolicy = { minTtlSeconds: 0, maxTtlSeconds: 86_400, negativeMaxTtlSeconds: 3_600, servfailTtlSeconds: 5 };

function msg(m: Partial<StoredMessage>): StoredMessage {
  return { wire: new Uint8Array(12), ttls: [], rcode: 0, ad: false, answerCount: 1, minAnswerTtl: 300, negativeTtl: -1, ...m };
}

describe('replyKind', () => {
  it('sorts replies into positive, negative (NXDOMAIN or NODATA), SERVFAIL and other', () => {
    assert.equal(replyKind(msg({})), ReplyKind.positive);
    assert.equal(replyKind(msg({ rcode: 3, answerCount: 1 })), ReplyKind.negative, 'NXDOMAIN after a CNAME is still negative');
    assert.equal(replyKind(msg({ answerCount: 0 })), ReplyKind.negative);
    assert.equal(replyKind(msg({ rcode: 2 })), ReplyKind.servfail);
    for (const rcode of [1, 4, 5, 9]) assert.equal(replyKind(msg({ rcode })), ReplyKind.other);
  });
});

describe('cacheTtlSeconds', () => {
  it('keeps a positive answer for its lowest answer TTL', () => {
    assert.equal(cacheTtlSeconds(msg({ minAnswerTtl: 300 }), POLICY), 300);
  });

  it('raises a positive TTL to the minimum and lowers it to the maximum', () => {
    const p = { ...POLICY, minTtlSeconds: 60, maxTtlSeconds: 600 };
    assert.equal(cacheTtlSeconds(msg({ minAnswerTtl: 10 }), p), 60);
    assert.equal(cacheTtlSeconds(msg({ minAnswerTtl: 6000 }), p), 600);
  });

  it('does not keep a positive answer whose TTL is 0, whatever the minimum (RFC 1035 §3.2.1)', () => {
    assert.equal(cacheTtlSeconds(msg({ minAnswerTtl: 0 }), { ...POLICY, minTtlSeconds: 60 }), 0);
  });

  it('keeps a negative answer for its SOA-derived TTL, capped (RFC 2308 §5)', () => {
    assert.equal(cacheTtlSeconds(msg({ rcode: 3, negativeTtl: 60 }), POLICY), 60);
    assert.equal(cacheTtlSeconds(msg({ rcode: 3, negativeTtl: 86_400 }), POLICY), 3_600);
    assert.equal(cacheTtlSeconds(msg({ answerCount: 0, negativeTtl: 120 }), POLICY), 120);
  });

  it('does not keep a negative answer without an SOA (RFC 2308 §5)', () => {
    assert.equal(cacheTtlSeconds(msg({ rcode: 3, negativeTtl: -1 }), POLICY), 0);
    assert.equal(cacheTtlSeconds(msg({ answerCount: 0, negativeTtl: 0 }), POLICY), 0);
  });

  it('keeps SERVFAIL briefly and other rcodes not at all (RFC 2308 §7.1)', () => {
    assert.equal(cacheTtlSeconds(msg({ rcode: 2 }), POLICY), 5);
    assert.equal(cacheTtlSeconds(msg({ rcode: 2 }), { ...POLICY, servfailTtlSeconds: 0 }), 0);
    assert.equal(cacheTtlSeconds(msg({ rcode: 5 }), POLICY), 0);
    assert.equal(cacheTtlSeconds(msg({ rcode: 1 }), POLICY), 0);
  });
});
