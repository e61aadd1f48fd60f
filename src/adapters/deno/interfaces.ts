// Interface addresses from Deno's own API (needs --allow-sys, which -A includes). Unlike
// libuv's list it keeps addresses of interfaces that are down, and gives no flags to tell them
// apart: an address left on a down interface still counts as local (checked on Deno 2.9).

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
