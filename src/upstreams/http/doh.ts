// DNS over HTTPS (RFC 8484) on HTTP/1.1, over the keep-alive connections of http-pool.ts.
// Queries go out with ID 0 (RFC 8484 §4.1, so identical GETs can be cached); the HTTP exchange
// itself says which reply is whose, and the caller's ID is put back in the reply. A status
// other than 200 is that upstream's failure, with the status in the error.

import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { Counters } from '../../core/counters.ts';
import type { CorePorts } from '../../core/ports.ts';
import { padQuery } from '../../core/wire/padding.ts';
import { MAX_TCP_MESSAGE } from '../../core/wire/reply.ts';
import { base64url, encodeRequest } from './http1.ts';
import { createHttpPool, poolSettings } from './pool.ts';
import { replyMatches } from '../reply-match.ts';
import type { UpstreamSpec } from '../spec.ts';
import { createTlsDialer } from '../tls/dialer.ts';
import type { EncryptedTransportSettings, Transport } from '../transport.ts';

const MEDIA_TYPE = 'application/dns-message';

export function createDohTransport(spec: UpstreamSpec, settings: EncryptedTransportSettings, ports: CorePorts, counters: Counters): Transport {
  const http = spec.http!;
  // ALPN: ask for HTTP/1.1 explicitly, so a server that also speaks h2 does not pick it.
  const dialer = createTlsDialer(spec, settings, ports, ['http/1.1']);
  const pool = createHttpPool(
    { ...poolSettings(spec.label, settings), maxBodyBytes: MAX_TCP_MESSAGE, dial: (handlers) => dialer.dial(handlers) },
    ports,
    counters,
  );

  const request = (sent: Uint8Array): Uint8Array => {
    const headers: Array<[string, string]> = [['Accept', MEDIA_TYPE]];
    if (http.method === 'GET') {
      const sep = http.path.includes('?') ? '&' : '?';
      return encodeRequest({ method: 'GET', target: `${http.path}${sep}dns=${base64url(sent)}`, authority: http.authority, headers });
    }
    headers.push(['Content-Type', MEDIA_TYPE]);
    return encodeRequest({ method: 'POST', target: http.path, authority: http.authority, headers, body: sent });
  };

  return {
    async exchange(query, timeoutMs, signal) {
      const zeroed = query.slice();
      zeroed[0] = zeroed[1] = 0;
      const sent = padQuery(zeroed, settings.paddingBlockBytes);
      const res = await pool.send(request(sent), timeoutMs, signal);
      if (res.status !== 200) {
        counters.upstream_http_errors++;
        throw new HoldfastError(ErrorCode.upstreamHttp, `upstream: ${spec.label} answered HTTP ${res.status}${res.reason ? ` ${res.reason}` : ''}`);
      }
      if (!replyMatches(res.body, sent)) {
        counters.upstream_mismatched_replies++;
        throw new HoldfastError(ErrorCode.upstreamBadReply, `upstream: ${spec.label} sent a body that does not answer the query (${res.body.length} bytes)`);
      }
      const reply = res.body;
      reply[0] = query[0];
      reply[1] = query[1];
      return reply;
    },
    close() {
      pool.close();
    },
    reset() {
      pool.reset();
    },
  };
}
