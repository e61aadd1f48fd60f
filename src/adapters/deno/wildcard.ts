// Deno cannot make an IPv6 socket IPv6-only: neither Deno.listen nor Deno.listenDatagram has
// the option (Deno 2.9; its node:net ignores `ipv6Only` too). On Linux, with the default
// net.ipv6.bindv6only=0, a `::` socket then takes IPv4 as well, and `::` and `0.0.0.0` cannot
// both be bound on one port. The closest correct behaviour: say so, and what to do instead
// (listen on `::` alone, which answers both families), rather than a bare "already in use".

/** True for the IPv6 wildcard in any spelling (`::`, `::0`, `0:0:0:0:0:0:0:0`). */
function isIpv6Wildcard(address: string): boolean {
  return address.includes(':') && /^[0:]+$/.test(address);
}

/**
 * The error to report for a failed bind: for the IPv6 wildcard whose port is taken, one that
 * names the likely cause (its message avoids "in use", which the server would reword).
 */
export function explainBindError(address: string, e: unknown): unknown {
  if (!isIpv6Wildcard(address) || !(e instanceof Deno.errors.AddrInUse)) return e;
  return new Error(
    'the port is taken, perhaps by 0.0.0.0 on the same port: Deno cannot make [::] IPv6-only, so listen on [::] alone, which answers IPv4 clients as well',
  );
}
