// RFC 6303 §4: the reverse zones every resolver should answer itself, so that the reverse
// lookups of private, loopback, link-local and documentation addresses never leave the LAN.
// Nothing on the Internet can answer them usefully, and each one that leaks is a query about
// the LAN sent to the AS112 servers.

import { nameKeyOf } from './names.ts';

const zero32 = Array.from({ length: 32 }, () => '0');

export const PRIVATE_REVERSE_ZONES: readonly string[] = [
  // §4.1: RFC 1918.
  '10.in-addr.arpa',
  ...Array.from({ length: 16 }, (_, i) => `${16 + i}.172.in-addr.arpa`),
  '168.192.in-addr.arpa',
  // §4.2: RFC 5735's special-use IPv4 ranges.
  '0.in-addr.arpa',
  '127.in-addr.arpa',
  '254.169.in-addr.arpa',
  '2.0.192.in-addr.arpa',
  '100.51.198.in-addr.arpa',
  '113.0.203.in-addr.arpa',
  '255.255.255.255.in-addr.arpa',
  // §4.3: the unspecified address (::/128) and loopback (::1/128).
  `${zero32.join('.')}.ip6.arpa`,
  `1.${zero32.slice(1).join('.')}.ip6.arpa`,
  // §4.4: locally assigned unique local addresses (fd00::/8, RFC 4193).
  'd.f.ip6.arpa',
  // §4.5: link-local (fe80::/10).
  '8.e.f.ip6.arpa',
  '9.e.f.ip6.arpa',
  'a.e.f.ip6.arpa',
  'b.e.f.ip6.arpa',
  // §4.6: documentation (2001:db8::/32, RFC 3849).
  '8.b.d.0.1.0.0.2.ip6.arpa',
];

export const PRIVATE_REVERSE_KEYS: readonly string[] = PRIVATE_REVERSE_ZONES.map((z) => nameKeyOf(z)!);

export const IN_ADDR_ARPA = nameKeyOf('in-addr.arpa')!;
export const IP6_ARPA = nameKeyOf('ip6.arpa')!;
