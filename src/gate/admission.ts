// Who gets an answer, decided from the client's address alone before a query is parsed: the
// allow/deny lists, then per-client and global rate limits. handle() asks once per message;
// the TCP session layer asks once per connection (a per-client connection cap).

import { Admit, type AdmitAction } from '../core/handle.ts';
import type { ClientInfo } from '../core/answer.ts';
import { configError, type ServerConfig } from '../config/config.ts';
import { LOCAL_KEYWORD, NONE_KEYWORD, PRIVATE_KEYWORD } from '../config/settings.ts';
import type { Counters } from '../core/counters.ts';
import type { Clock } from '../core/ports.ts';
import type { ConnectionGate, ConnectionTicket } from '../core/stream-server.ts';
import { createCidrSet, parseAddress, parseCidr, PRIVATE_RANGES, type Cidr, type Family } from '../core/net/cidr.ts';
import { createBucket, createBucketTable, takeToken, type BucketKey, type BucketTable, type Rate } from './token-bucket.ts';

export type AccessOptions = ServerConfig['access'];
export type RateLimitOptions = ServerConfig['rateLimit'];

export interface Admission {
  /** Answer, or drop, refuse or truncate this client's message. */
  readonly admit: (client: ClientInfo) => AdmitAction;
  /** admit() from the address and transport alone, as handle() asks: no ClientInfo per message (#11). */
  readonly admitFrom: (address: string, transport: ClientInfo['transport']) => AdmitAction;
  /** For the TCP session layer: may this address open one more connection? */
  readonly admitConnection: ConnectionGate;
  /** Client prefixes with rate state, for tests and status. */
  readonly trackedClients: () => number;
  /** Whether the allow list names `local`, so the interfaces' subnets should be kept current. */
  readonly usesLocal: boolean;
  /** The interfaces' subnets now; replaces the ones before (nothing changes without `local`). */
  readonly setLocalSubnets: (cidrs: readonly Cidr[]) => void;
}

/**
 * Prefixes from config strings; `private` expands to PRIVATE_RANGES and `none` to nothing;
 * `local`, where `localAllowed`, is skipped (its prefixes arrive later, through
 * setLocalSubnets). Throws a config error naming `key[i]`.
 */
export function cidrsFrom(key: string, texts: readonly string[], localAllowed = false): Cidr[] {
  const out: Cidr[] = [];
  texts.forEach((t, i) => {
    if (t === PRIVATE_KEYWORD) for (const p of PRIVATE_RANGES) out.push(parseCidr(p) as Cidr);
    else if (t === LOCAL_KEYWORD) {
      if (!localAllowed) throw configError(`${key}[${i}]`, `cannot be "${LOCAL_KEYWORD}", which only access.allow understands`);
    } else if (t !== NONE_KEYWORD) {
      const c = parseCidr(t);
      if (typeof c === 'string') throw configError(`${key}[${i}]`, `is not an address or prefix: ${c}`);
      out.push(c);
    }
  });
  return out;
}

const NOOP_RELEASE = () => {};
const FREE: ConnectionTicket = { release: NOOP_RELEASE, refused: false };
const FREE_REFUSED: ConnectionTicket = { release: NOOP_RELEASE, refused: true };
/** How many client address texts keep their classification (see lookup()). */
const KNOWN_ADDRESSES = 4_096;

const KnownKind = { denied: 0, exempt: 1, limited: 2 } as const;
type KnownKind = (typeof KnownKind)[keyof typeof KnownKind];

/** An address as classified once: refused, never limited, or limited under these keys. */
interface Known {
  readonly kind: KnownKind;
  readonly udpKey: BucketKey;
  readonly tcpKey: BucketKey;
}
/** An address that could not be read: refused, and with no prefix to count it under. */
const UNREADABLE: Known = { kind: KnownKind.denied, udpKey: -1, tcpKey: -1 };
const EXEMPT: Known = { kind: KnownKind.exempt, udpKey: 0, tcpKey: 0 };
/** TCP clients' IPv4 keys sit above every UDP one, so one table holds both. */
const TCP_V4_OFFSET = 2 ** 32;

export function createAdmission(access: AccessOptions, limits: RateLimitOptions, clock: Clock, counters: Counters): Admission {
  const fixedAllow = cidrsFrom('access.allow', access.allow, true);
  const usesLocal = access.allow.includes(LOCAL_KEYWORD);
  if (fixedAllow.length === 0 && !usesLocal) throw configError('access.allow', 'lists no prefix, so no client could ever be answered');
  // Replaced whole when the interfaces' subnets change; read only by classify(), on a miss.
  let allow = createCidrSet(fixedAllow);
  const deny = createCidrSet(cidrsFrom('access.deny', access.deny));
  const exempt = createCidrSet(cidrsFrom('rateLimit.exempt', limits.exempt));
  const refused = access.refuseAction === 'drop' ? Admit.drop : Admit.refuse;

  const perClient: Rate | null = limits.perClientQps > 0 ? { perSecond: limits.perClientQps, burst: limits.perClientBurst } : null;
  const global: Rate | null = limits.globalQps > 0 ? { perSecond: limits.globalQps, burst: limits.globalBurst } : null;
  const table: BucketTable | null = perClient
    ? createBucketTable(perClient, limits.maxTrackedClients, () => counters.rate_limit_evictions++)
    : null;
  const globalBucket = global ? createBucket(global, clock.now()) : null;
  // REFUSED over UDP goes wherever the source address says, forged or not: all such replies
  // together are held to a small rate, so the server cannot be used to reflect traffic. Over TCP
  // the source is proven by the handshake, so it is not limited there.
  const refuseRate: Rate | null = access.refusedPerSecond > 0 ? { perSecond: access.refusedPerSecond, burst: access.refusedPerSecond } : null;
  const refuseBucket = refuseRate ? createBucket(refuseRate, clock.now()) : null;
  const mask4 = limits.ipv4PrefixBits === 0 ? 0 : (0xffffffff << (32 - limits.ipv4PrefixBits)) >>> 0;
  const v6Words = Math.ceil(limits.ipv6PrefixBits / 32);
  const v6LastMask = limits.ipv6PrefixBits % 32 === 0 ? 0xffffffff : (0xffffffff << (32 - (limits.ipv6PrefixBits % 32))) >>> 0;
  const tcpPerClient = limits.tcpConnectionsPerClient;
  const connections = new Map<BucketKey, number>();

  // One scratch array for the address being read: all of this runs synchronously.
  const addr = new Uint32Array(4);

  /** The client's prefix as a table key; UDP and TCP get separate buckets (see README). */
  function clientKey(family: Family, tcp: boolean): BucketKey {
    if (family === 4) return ((addr[0] & mask4) >>> 0) + (tcp ? TCP_V4_OFFSET : 0);
    // Four 16-bit units per word: a short flat string, cheaper to build and hash than digits.
    let key = tcp ? 't' : 'u';
    for (let w = 0; w < v6Words; w++) {
      const word = w === v6Words - 1 ? (addr[w] & v6LastMask) >>> 0 : addr[w];
      key += String.fromCharCode(word >>> 16, word & 0xffff);
    }
    return key;
  }

  function classify(address: string): Known {
    const family = parseAddress(address, addr);
    if (family === 0) return UNREADABLE;
    const denied = deny.contains(family, addr) || !allow.contains(family, addr);
    if (!denied && ((table === null && globalBucket === null && tcpPerClient === 0) || exempt.contains(family, addr))) return EXEMPT;
    // A denied client keeps its keys: it may hold TCP connections (to be told REFUSED), and
    // those count against the per-client cap like anyone's.
    return { kind: denied ? KnownKind.denied : KnownKind.limited, udpKey: clientKey(family, false), tcpKey: clientKey(family, true) };
  }

  // What each address text was found to be. A LAN has few addresses, and looking one up is
  // several times cheaper than reading it again; a flood of new addresses only empties this.
  const known = new Map<string, Known>();
  function lookup(address: string): Known {
    let k = known.get(address);
    if (k === undefined) {
      k = classify(address);
      if (known.size >= KNOWN_ADDRESSES) known.clear();
      known.set(address, k);
    }
    return k;
  }

  function limited(tcp: boolean): AdmitAction {
    switch (limits.action) {
      case 'drop':
        counters.rate_limited_dropped++;
        return Admit.drop;
      case 'truncate':
        // As response rate limiting's "slip" does: TC=1 sends a real client to TCP, where its
        // source is proven. Over TCP itself TC means nothing, so a limited TCP client is refused.
        if (!tcp) {
          counters.rate_limited_truncated++;
          return Admit.truncate;
        }
        counters.rate_limited_refused++;
        return Admit.refuse;
      default:
        counters.rate_limited_refused++;
        return Admit.refuse;
    }
  }

  function admitFrom(address: string, transport: ClientInfo['transport']): AdmitAction {
    const k = lookup(address);
    if (k.kind !== KnownKind.limited) {
      if (k.kind === KnownKind.exempt) return Admit.answer;
      if (refused === Admit.drop) counters.acl_dropped++;
      else if (refuseBucket !== null && transport !== 'tcp' && !takeToken(refuseBucket, refuseRate!, clock.now())) {
        counters.acl_refused_limited++;
        return Admit.drop;
      } else counters.acl_refused++;
      return refused;
    }
    const tcp = transport === 'tcp';
    const key = tcp ? k.tcpKey : k.udpKey;
    const now = clock.now();
    if (table !== null && !table.take(key, now)) return limited(tcp);
    if (globalBucket !== null && !takeToken(globalBucket, global!, now)) {
      // The client's own token goes back: the server, not this client, was over its limit.
      if (table !== null) table.refund(key);
      counters.rate_limited_global++;
      return limited(tcp);
    }
    return Admit.answer;
  }

  function admitConnection(address: string): ConnectionTicket | null {
    const k = lookup(address);
    // A refused client may still connect and be told REFUSED once (the session then closes);
    // a dropped one is cut off before it costs a session.
    if (k.kind === KnownKind.denied && (refused === Admit.drop || k === UNREADABLE)) {
      counters.acl_dropped++;
      return null;
    }
    const denied = k.kind === KnownKind.denied;
    if (tcpPerClient === 0 || k.kind === KnownKind.exempt) return denied ? FREE_REFUSED : FREE;
    const key = k.tcpKey;
    const open = connections.get(key) ?? 0;
    if (open >= tcpPerClient) {
      counters.tcp_client_connections_refused++;
      return null;
    }
    connections.set(key, open + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (connections.get(key) ?? 1) - 1;
      if (n > 0) connections.set(key, n);
      else connections.delete(key);
    };
    return { release, refused: denied };
  }

  function setLocalSubnets(cidrs: readonly Cidr[]): void {
    if (!usesLocal) return;
    allow = createCidrSet([...fixedAllow, ...cidrs]);
    // Every classification was made against the old set: a client of a prefix just gone
    // must be refused from its next message on, one of a new prefix answered.
    known.clear();
  }

  const admit = (client: ClientInfo) => admitFrom(client.address, client.transport);
  return { admit, admitFrom, admitConnection, trackedClients: () => table?.size ?? 0, usesLocal, setLocalSubnets };
}
