// Why a listener could not be bound, in words a router owner can act on: "already in use" alone
// leaves them guessing, so the message names the service that usually holds that port and, on
// Linux, the user whose socket holds it (read from /proc, through the runtime's file reads).

import type { ListenAddress } from '../config/config.ts';
import { ErrorCode, HoldfastError } from '../core/errors.ts';
import type { FileSystem } from '../core/ports.ts';

export type BindTransport = 'udp' | 'tcp';

/** Who usually holds a port on a Linux box, a Raspberry Pi or an OpenWrt router. */
const USUAL_HOLDERS: Readonly<Record<number, string>> = {
  53: 'another DNS server (dnsmasq, systemd-resolved on 127.0.0.53, unbound, Pi-hole...)',
  // RFC 6762: mDNS is port 5353; avahi-daemon (Raspberry Pi OS, desktops) and umdns (OpenWrt)
  // bind it on every address.
  5353: 'an mDNS responder (avahi-daemon, umdns)',
  // RFC 4795: LLMNR, which systemd-resolved answers by default.
  5355: 'an LLMNR responder (systemd-resolved)',
};

/** The hint for a port taken by someone else, or '' when the port says nothing. */
export function usualHolder(port: number): string {
  const who = USUAL_HOLDERS[port];
  return who ? `; port ${port} is usually ${who}` : '';
}

const where = (l: ListenAddress) => (l.address.includes(':') ? `[${l.address}]:${l.port}` : `${l.address}:${l.port}`);

function isInUse(code: string, e: unknown): boolean {
  return code === 'EADDRINUSE' || /in use/i.test(String(e));
}

/** The message for a bind that failed, without looking at who holds the port. */
export function describeBindError(l: ListenAddress, e: unknown, what = 'listen'): HoldfastError {
  const code = (e as { code?: string }).code ?? '';
  const why = isInUse(code, e)
    ? `is already in use${usualHolder(l.port)}`
    : code === 'EACCES' || /permission/i.test(String(e))
      ? 'needs privileges (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
      : code === 'EADDRNOTAVAIL' || /not available|cannot assign/i.test(String(e))
        ? 'is not an address of this machine'
        : `cannot be bound (${(e as Error).message ?? e})`;
  return new HoldfastError(ErrorCode.config, `${what}: ${where(l)} ${why}`);
}

/**
 * The same, and for a port in use the user whose socket holds it, when /proc says (Linux). A
 * failed bind ends the start, so the two small file reads cost nothing that matters.
 */
export async function describeBindErrorWithHolder(
  fs: Pick<FileSystem, 'readText'>,
  l: ListenAddress,
  transport: BindTransport,
  e: unknown,
  what = 'listen',
): Promise<HoldfastError> {
  const error = describeBindError(l, e, what);
  if (!isInUse((e as { code?: string }).code ?? '', e)) return error;
  const holder = await portHolder(fs, transport, l).catch(() => null);
  if (!holder) return error;
  return new HoldfastError(error.code, `${error.message} (${transport} port ${l.port} is held by a process of user ${holder})`);
}

/** One socket from /proc/net/{udp,tcp}{,6}. */
export interface ProcSocket {
  readonly address: string;
  readonly port: number;
  readonly uid: number;
  readonly inode: number;
  /** The `st` column: 0A is TCP LISTEN, 07 an unconnected UDP socket. */
  readonly state: number;
}

/** /proc/net/udp's address: little-endian 32-bit words in hex (on x86 and ARM alike). */
function procAddress(hex: string): string | null {
  const word = (i: number) => {
    const w = hex.slice(i * 8, i * 8 + 8);
    return [6, 4, 2, 0].map((j) => parseInt(w.slice(j, j + 2), 16));
  };
  if (hex.length === 8) return word(0).join('.');
  if (hex.length !== 32) return null;
  const bytes = [0, 1, 2, 3].flatMap(word);
  // An IPv4-mapped address (::ffff:a.b.c.d) as the IPv4 address it stands for.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return compressIpv6(groups);
}

/** RFC 5952 §4.2: the longest run of two or more zero groups becomes "::". */
function compressIpv6(groups: string[]): string {
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j > i ? j : i + 1;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLength).join(':')}`;
}

/** The sockets listed in one /proc/net table. */
export function parseProcNet(text: string): ProcSocket[] {
  const out: ProcSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [addr, port] = f[1].split(':');
    const address = procAddress(addr);
    if (address === null || port === undefined) continue;
    out.push({ address, port: parseInt(port, 16), state: parseInt(f[3], 16), uid: Number(f[7]), inode: Number(f[9]) });
  }
  return out;
}

const isWildcard = (a: string) => a === '0.0.0.0' || a === '::';

/** A user name from /etc/passwd for `uid`, else the number. */
export function userName(passwd: string | null, uid: number): string {
  for (const line of (passwd ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && Number(f[2]) === uid && f[2] !== '') return `${f[0]} (uid ${uid})`;
  }
  return `uid ${uid}`;
}

/**
 * The user(s) owning the socket that holds `l`'s port, or null when /proc cannot say (not
 * Linux, or the socket is gone). A socket on the same port counts when either side is a
 * wildcard address or both are the same address: those are the ones a bind collides with.
 */
export async function portHolder(fs: Pick<FileSystem, 'readText'>, transport: BindTransport, l: ListenAddress): Promise<string | null> {
  const tables = await Promise.all([fs.readText(`/proc/net/${transport}`), fs.readText(`/proc/net/${transport}6`)]);
  const sockets = tables.flatMap((t) => (t ? parseProcNet(t) : []));
  // TCP: only listeners collide with a listen(); a connection from that port (TIME_WAIT) does not.
  const bound = sockets.filter((s) => s.port === l.port && (transport === 'udp' || s.state === 0x0a));
  const ours = l.address.toLowerCase();
  const colliding = bound.filter((s) => isWildcard(s.address) || isWildcard(ours) || s.address === ours);
  const found = colliding.length ? colliding : bound;
  if (found.length === 0) return null;
  const passwd = await fs.readText('/etc/passwd').catch(() => null);
  return [...new Set(found.map((s) => s.uid))].map((uid) => userName(passwd, uid)).join(', ');
}
