// Interface addresses from node:os. libuv lists only interfaces that are up and running.

import { networkInterfaces } from 'node:os';
import type { InterfaceSubnet } from '../../core/ports.ts';
import { subnetFrom } from '../shared/interfaces.ts';

export function interfaceSubnets(): InterfaceSubnet[] {
  const out: InterfaceSubnet[] = [];
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    for (const a of addresses ?? []) {
      const s = subnetFrom(name, a);
      if (s) out.push(s);
    }
  }
  return out;
}
