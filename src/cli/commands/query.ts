// `holdfast query NAME [TYPE]`: a small dig for routers that have none.

import { defineCommand } from 'citty';
import { createCounters } from '../../core/counters.ts';
import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import type { Runtime } from '../../core/ports.ts';
import { textToName } from '../../core/wire/names.ts';
import { splitHostPort } from '../../core/net/host-port.ts';
import { parseUpstream } from '../../upstreams/spec.ts';
import { exchangeTcp } from '../../upstreams/tcp.ts';
import { exchangeUdp } from '../../upstreams/udp.ts';
import { nameserversFrom } from '../../server/resolv-conf.ts';
import { intFlag, rejectUnknownFlags } from '../args.ts';
import { decodeMessage, encodeQuery, isKnownType } from '../query/packet.ts';
import { formatReply } from '../query/format.ts';

export const queryArgs = {
  name: { type: 'positional', description: 'Name to look up', required: true },
  type: { type: 'positional', description: 'Record type (A, AAAA, MX, TXT, ...)', required: false, default: 'A' },
  server: { type: 'string', description: 'Server to ask (default: first nameserver in /etc/resolv.conf)', valueHint: 'ADDR:PORT' },
  tcp: { type: 'boolean', description: 'Ask over TCP instead of UDP' },
  timeout: { type: 'string', description: 'Milliseconds to wait for the reply (default 3000)', valueHint: 'MS' },
  // citty reads "--no-edns" as edns=false, never as a flag of its own.
  edns: { type: 'boolean', default: true, description: 'Send an EDNS OPT record; --no-edns sends the query without one' },
} as const;

async function serverUrl(runtime: Runtime, server: string | undefined, tcp: boolean): Promise<string> {
  const scheme = tcp ? 'tcp' : 'udp';
  if (server) {
    const hp = splitHostPort(server);
    if (!hp) throw new HoldfastError(ErrorCode.config, `--server: "${server}" is not ADDR[:PORT]`);
    const host = hp.host.includes(':') ? `[${hp.host}]` : hp.host;
    return `${scheme}://${host}:${hp.port ?? 53}`;
  }
  const first = nameserversFrom((await runtime.fs.readText('/etc/resolv.conf')) ?? '', [])[0];
  if (!first) throw new HoldfastError(ErrorCode.config, 'no server: pass --server ADDR:PORT');
  return first.replace(/^udp:/, `${scheme}:`);
}

export function queryCommand(runtime: Runtime) {
  return defineCommand({
    meta: { name: 'query', description: 'Ask a DNS server one question and print the reply, like dig' },
    args: queryArgs,
    async run({ rawArgs, args }) {
      rejectUnknownFlags(rawArgs, queryArgs);
      const type = String(args.type ?? 'A').toUpperCase();
      if (!isKnownType(type)) throw new HoldfastError(ErrorCode.config, `query: "${args.type}" is not a record type this client knows (A, AAAA, MX, TXT, ...)`);
      try {
        textToName(args.name);
      } catch (e) {
        throw new HoldfastError(ErrorCode.config, `query: ${(e as Error).message}`);
      }
      const spec = parseUpstream(await serverUrl(runtime, args.server, Boolean(args.tcp)));
      const timeoutMs = intFlag('timeout', args.timeout, 3000);
      const counters = createCounters();
      const query = encodeQuery(args.name, type, runtime.entropy.id16(), args.edns !== false);
      const started = runtime.clock.now();
      let transport = spec.protocol;
      let reply =
        spec.protocol === 'tcp'
          ? await exchangeTcp(runtime, spec, query, timeoutMs, counters)
          : await exchangeUdp(runtime, spec, query, timeoutMs, counters);
      if (transport === 'udp' && (reply[2] & 0x02) !== 0) {
        runtime.stdout.write(';; Truncated, retrying in TCP mode.\n');
        transport = 'tcp';
        reply = await exchangeTcp(runtime, { ...spec, protocol: 'tcp' }, query, timeoutMs, counters);
      }
      const elapsed = runtime.clock.now() - started;
      const where = spec.family === 6 ? `[${spec.address}]#${spec.port}` : `${spec.address}#${spec.port}`;
      runtime.stdout.write(formatReply(decodeMessage(reply), where, transport, elapsed, reply.length));
    },
  });
}
