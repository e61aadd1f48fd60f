// What Node's os.networkInterfaces() and Deno.networkInterfaces() both report per address,
// turned into the core's InterfaceSubnet.

import type { InterfaceSubnet } from '../../core/ports.ts';

export interface ReportedAddress {
  readonly address: string;
  /** "IPv4" or "IPv6"; Node 18.0 to 18.3 said 4 or 6. */
  readonly family: string | number;
  /** "ADDR/BITS"; Node gives null for a netmask that is no prefix (not contiguous). */
  readonly cidr: string | null;
}

/** The address with its prefix length, or null when it has none to give. */
export function subnetFrom(name: string, a: ReportedAddress): InterfaceSubnet | null {
  if (!a.cidr) return null;
  const slash = a.cidr.lastIndexOf('/');
  const bits = Number(a.cidr.slice(slash + 1));
  const family = a.family === 'IPv4' || a.family === 4 ? 4 : a.family === 'IPv6' || a.family === 6 ? 6 : 0;
  if (slash < 0 || !Number.isInteger(bits) || family === 0) return null;
  const zone = a.address.indexOf('%');
  return { name, address: zone < 0 ? a.address : a.address.slice(0, zone), prefixBits: bits, family };
}
