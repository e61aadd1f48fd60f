// Interface addresses from Deno's own API (needs --allow-sys, which -A includes).

import type { InterfaceSubnet } from '../../core/ports.ts';
import { subnetFrom } from '../shared/interfaces.ts';

export function interfaceSubnets(): InterfaceSubnet[] {
  const out: InterfaceSubnet[] = [];
  for (const a of Deno.networkInterfaces()) {
    const s = subnetFrom(a.name, a);
    if (s) out.push(s);
  }
  return out;
}
