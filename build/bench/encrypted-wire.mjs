// The bytes the bench's own DoT/DoH client (encrypted-client.mjs) sends and reads: a padded A
// query, DNS-over-TCP framing (RFC 7766 §8, which DoT keeps: RFC 7858 §3.3), and HTTP/1.1
// requests and responses for DoH (RFC 8484 §4.1). Pure, so test/bench/ checks them.

/** Header flags with RD set (RFC 1035 §4.1.1). */
const RD = 0x0100;
const TYPE_A = 1;
const TYPE_OPT = 41;
const CLASS_IN = 1;
const EDNS_UDP_BYTES = 1232;
/** RFC 7830 §3. */
const PADDING_OPTION = 12;

/**
 * An A query for `name` with ID `id` and an EDNS(0) OPT record whose Padding option makes the
 * whole a multiple of `blockBytes` (RFC 8467 §4.1), as Holdfast pads what it sends over TLS;
 * 0 leaves the OPT record without padding.
 */
export function paddedQuery(id, name, blockBytes = 128) {
  const labels = name.split('.').filter(Boolean);
  const qnameBytes = labels.reduce((n, l) => n + 1 + Buffer.byteLength(l), 1);
  const fixed = 12 + qnameBytes + 4 + 11;
  const unpadded = blockBytes > 0 ? fixed + 4 : fixed;
  const padBytes = blockBytes > 0 ? (blockBytes - (unpadded % blockBytes)) % blockBytes : 0;
  const out = Buffer.alloc(unpadded + padBytes);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(RD, 2);
  out.writeUInt16BE(1, 4); // QDCOUNT
  out.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  let at = 12;
  for (const l of labels) {
    at = out.writeUInt8(Buffer.byteLength(l), at);
    at += out.write(l, at, 'ascii');
  }
  at = out.writeUInt8(0, at);
  at = out.writeUInt16BE(TYPE_A, at);
  at = out.writeUInt16BE(CLASS_IN, at);
  // OPT (RFC 6891 §6.1.2): root owner, the UDP size in CLASS, TTL 0, then the options.
  at = out.writeUInt8(0, at);
  at = out.writeUInt16BE(TYPE_OPT, at);
  at = out.writeUInt16BE(EDNS_UDP_BYTES, at);
  at = out.writeUInt32BE(0, at);
  if (blockBytes > 0) {
    at = out.writeUInt16BE(4 + padBytes, at);
    at = out.writeUInt16BE(PADDING_OPTION, at);
    out.writeUInt16BE(padBytes, at); // the padding octets are zero (RFC 7830 §3)
  } else out.writeUInt16BE(0, at);
  return out;
}

export const idOf = (message) => (message[0] << 8) | message[1];
export const rcodeOf = (message) => message[3] & 0x0f;
export const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

/** A message with its two-byte length in front (RFC 7766 §8). */
export function frame(message) {
  const out = Buffer.alloc(2 + message.length);
  out.writeUInt16BE(message.length, 0);
  out.set(message, 2);
  return out;
}

/** Calls `onMessage` with each whole length-prefixed message pushed in, however the bytes were split. */
export function createFrameReader(onMessage) {
  let buffered = Buffer.alloc(0);
  return {
    push(bytes) {
      buffered = buffered.length ? Buffer.concat([buffered, bytes]) : Buffer.from(bytes);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        onMessage(message);
      }
    },
  };
}

/** An RFC 8484 POST: the query (ID 0, §4.1) as the body, HTTP/1.1 keep-alive. */
export function dohPost({ path, authority, body }) {
  const head = [
    `POST ${path} HTTP/1.1`,
    `Host: ${authority}`,
    'Accept: application/dns-message',
    'Content-Type: application/dns-message',
    `Content-Length: ${body.length}`,
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD_BYTES = 16 * 1024;

/**
 * Calls `onResponse({ status, keepAlive, body })` for each HTTP/1.1 response pushed in, in
 * order; `onError(why)` once, for a response it cannot read (bodies must carry a
 * Content-Length: what DoH servers send for a DNS message).
 */
export function createResponseReader(onResponse, onError) {
  let buffered = Buffer.alloc(0);
  let failed = false;
  const fail = (why) => {
    failed = true;
    onError(why);
  };
  return {
    push(bytes) {
      if (failed) return;
      buffered = buffered.length ? Buffer.concat([buffered, bytes]) : Buffer.from(bytes);
      for (;;) {
        const end = buffered.indexOf(HEAD_END);
        if (end < 0) {
          if (buffered.length > MAX_HEAD_BYTES) fail('response head too long');
          return;
        }
        const [statusLine, ...lines] = buffered.subarray(0, end).toString('latin1').split('\r\n');
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
        if (!status) return fail(`not an HTTP/1.x status line: ${JSON.stringify(statusLine.slice(0, 60))}`);
        const headers = new Map();
        for (const line of lines) {
          const colon = line.indexOf(':');
          if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
        }
        if (headers.has('transfer-encoding')) return fail(`transfer-encoding ${headers.get('transfer-encoding')} is not read here`);
        const length = Number(headers.get('content-length') ?? 0);
        if (!Number.isInteger(length) || length < 0) return fail(`bad content-length ${headers.get('content-length')}`);
        if (buffered.length < end + 4 + length) return;
        const body = buffered.subarray(end + 4, end + 4 + length);
        buffered = buffered.subarray(end + 4 + length);
        onResponse({ status: Number(status[1]), keepAlive: !/\bclose\b/i.test(headers.get('connection') ?? ''), body });
      }
    },
  };
}
