// The one place that knows every kind of upstream: a spec in, its transport out. Apart from
// transport.ts (the interface every kind implements), so the transports can import that
// interface without importing each other through the factory.

import type { Counters } from '../core/counters.ts';
import type { CorePorts } from '../core/ports.ts';
import { createDohTransport } from './http/doh.ts';
import { createRelayTransport } from './relay/client.ts';
import type { UpstreamSpec } from './spec.ts';
import { exchangeTcp } from './tcp.ts';
import { createDotTransport } from './tls/dot.ts';
import type { EncryptedTransportSettings, Transport } from './transport.ts';
import { createUdpPoolTransport } from './udp-pool.ts';

export function createTransport(spec: UpstreamSpec, settings: EncryptedTransportSettings, ports: CorePorts, counters: Counters): Transport {
  switch (spec.protocol) {
    case 'tls':
      return createDotTransport(spec, settings, ports, counters);
    case 'https':
      return createDohTransport(spec, settings, ports, counters);
    case 'relay':
      return createRelayTransport(spec, settings, ports, counters);
    case 'tcp':
      return { exchange: (q, t, s) => exchangeTcp(ports, spec, q, t, counters, s), close() {} };
    default:
      return createUdpPoolTransport(ports, spec, counters);
  }
}
