// Everything the core needs from a runtime, as interfaces. Adapters (src/adapters/*) implement
// them with Node, Deno or Bun; tests implement them with fakes (a clock they move by hand).

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Milliseconds with sub-millisecond resolution from an arbitrary origin, never stepping back
   * with the wall clock: for measuring durations (answer latency). Optional so that a test
   * clock can leave it out; whoever measures falls back to now().
   */
  monotonicMs?(): number;
}

export type TimerHandle = unknown;

export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /**
   * Runs `fn` on the next turn of the event loop, once the sockets' pending events (and due
   * timers) have had theirs, without sleeping: what lets long work run in slices with queries
   * answered in between. setTimeout(fn, 0) would do the same at a cost: Bun and Node wait at
   * least 1 ms, Deno more, so 200 slices of a 100,000-name snapshot spent 0.25 s asleep (#11).
   */
  setImmediate(fn: () => void): void;
}

export interface Entropy {
  /** Uniform in [0, 1): jitter and sampling, where predictability does no harm. */
  random(): number;
  /** A uniformly random 16-bit integer from a CSPRNG: DNS message IDs (RFC 5452 §9.2). */
  id16(): number;
}

export interface Peer {
  readonly address: string;
  readonly port: number;
}

export interface UdpSocket {
  readonly port: number;
  /**
   * Never throws: a datagram that cannot be sent (port 0, an ICMP error the kernel reports on
   * this send, a closed socket) is dropped and reported to the socket's UdpErrorHandler.
   */
  send(bytes: Uint8Array, port: number, address: string): void;
  /**
   * True when send() is done with `bytes` once it returns (Bun sends at once), so the caller may
   * overwrite them; otherwise the runtime may read them later, and each send needs its own.
   */
  readonly sendsAtOnce: boolean;
  close(): void;
}

export type UdpReceiver = (bytes: Uint8Array, from: Peer) => void;

/** A listener's datagram: the sender as arguments, not a Peer object per datagram (#11). */
export type DatagramReceiver = (bytes: Uint8Array, port: number, address: string) => void;

/**
 * A socket error an adapter caught instead of throwing or printing it: on `receive`, an ICMP
 * error the kernel queued for the socket (port unreachable: an upstream that refuses, a client
 * that has gone); on `send`, a datagram the runtime would not send. For counting; the socket
 * stays open. Without a handler the adapter drops the error silently.
 */
export type UdpErrorHandler = (op: 'send' | 'receive', error: Error) => void;

/** A UDP socket connected to one peer: the kernel drops datagrams from anyone else. */
export interface UdpClient {
  send(bytes: Uint8Array): void;
  close(): void;
}

export interface UdpClientHandlers {
  onMessage: UdpReceiver;
  /**
   * The socket failed after it was opened. On a connected socket the kernel reports an ICMP
   * port unreachable for what was sent as ECONNREFUSED (the error's `code`) on the next receive;
   * adapters pass that on rather than drop it. Runtimes whose UDP cannot report it (Deno) never
   * call this for a refusal.
   */
  onError(error: Error): void;
}

export interface ByteStream {
  write(bytes: Uint8Array): void;
  close(): void;
}

/**
 * A client's TCP connection on a listener: a ByteStream that says how much of what was written
 * is still waiting in this process, and whose reading can be held back. While reading is
 * paused the kernel's receive window fills and TCP itself makes the client wait.
 */
export interface TcpConnection extends ByteStream {
  /** Bytes written and not yet taken by the kernel: memory this connection holds until then. */
  readonly bufferedBytes: number;
  /** Stops calling onData until resume(); data already read may still arrive once. */
  pause(): void;
  resume(): void;
}

export interface StreamHandlers {
  onData(bytes: Uint8Array): void;
  /** Everything written so far has been taken by the kernel (bufferedBytes is back to 0). */
  onDrain?(): void;
  /**
   * The peer half-closed (sent FIN): it will send nothing more but may still read. Without
   * this handler an adapter reports the end as onClose.
   */
  onEnd?(): void;
  onClose(error?: Error): void;
}

export interface TlsOptions {
  /**
   * The name the server's certificate must be valid for, also sent as SNI; an IP address
   * here means the certificate must name that IP (and no SNI is sent, RFC 6066 §3).
   */
  readonly serverName: string;
  /** PEM certificates to trust instead of the system store (Deno: as well as it). */
  readonly caPem?: string;
  /** ALPN protocols to offer, e.g. ["http/1.1"]; none when absent. */
  readonly alpn?: readonly string[];
  /** Report the peer's key (TlsStream.peerKeySha256), for pinning. */
  readonly peerKey?: boolean;
  /**
   * Reach the server through an HTTP proxy: the TCP connection goes to the address and port
   * given (the proxy's), the tunnel is opened on it, and TLS starts inside it, verified as
   * it would be without (the name and pins are the server's, never the proxy's).
   */
  readonly tunnel?: TlsTunnel;
  /** Aborting it ends the attempt (TCP, tunnel or handshake) and closes its socket. */
  readonly signal?: AbortSignal;
  /**
   * Set only while the local clock reads earlier than it can be (#12): the earliest the true
   * time can be, in ms. A certificate whose only fault is its validity period is then accepted
   * if every certificate of its chain is still valid at some moment from this one on; the chain,
   * the name and the pins are checked as ever. Absent: full checks against the clock.
   */
  readonly clockFloorMs?: number;
}

/** An HTTP CONNECT tunnel as the adapters see it: bytes out, bytes in, and the core's verdict. */
export interface TlsTunnel {
  /** Written first, as soon as the TCP connection is up. */
  readonly request: Uint8Array;
  /**
   * Each chunk received before TLS starts: false while the proxy's reply is incomplete, true
   * once the tunnel is open (TLS then starts on the same connection). Throws, the attempt then
   * failing with that error, when the proxy refused.
   */
  reply(bytes: Uint8Array): boolean;
}

export interface TlsStream extends ByteStream {
  /**
   * Base64 SHA-256 of the peer certificate's SubjectPublicKeyInfo (RFC 7469 §2.4), when
   * `peerKey` was asked for; null when it was not, or the runtime could not tell.
   */
  readonly peerKeySha256: string | null;
  /** Why the certificate was taken despite its validity period (clockFloorMs); null or absent: it was not. */
  readonly validityIgnored?: string | null;
}

/** Outbound sockets, for talking to upstreams. */
export interface Network {
  /**
   * A UDP socket on a random ephemeral port (RFC 5452 §9.2), connected to `address`:`port`, so
   * that an ICMP refusal of what it sends comes back as an error (UdpClientHandlers.onError).
   */
  connectUdp(address: string, port: number, handlers: UdpClientHandlers): Promise<UdpClient>;
  connectTcp(address: string, port: number, handlers: StreamHandlers): Promise<ByteStream>;
  /**
   * A TCP connection with a completed TLS handshake whose certificate chain and name were
   * verified; rejects with the reason (expired, wrong name, unknown issuer) otherwise.
   */
  connectTls(address: string, port: number, options: TlsOptions, handlers: StreamHandlers): Promise<TlsStream>;
}

/**
 * An HTTP handler in the Fetch API's shape (as Hono's `app.fetch`): Deno's and Bun's serve()
 * take it as it is and Node's adapter converts to and from node:http. `from` is the client.
 * Request bodies are not passed on: every endpoint only reads.
 */
export type HttpHandler = (request: Request, from: Peer) => Response | Promise<Response>;

/**
 * What one client may hold of the HTTP port (#15): a page or scraper needs a connection or two
 * for a moment, so anything beyond these is stuck or hostile.
 */
export interface HttpLimits {
  /** Most connections open at once; a connection past it is closed as soon as it is accepted. */
  readonly maxConnections: number;
  /**
   * A connection must send a whole request head within this long of opening, or of its last
   * response (keep-alive); bytes trickling in do not extend it.
   */
  readonly headersTimeoutMs: number;
  /** From a request's head to its response sent (a relay body read slowly, say). */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = { maxConnections: 64, headersTimeoutMs: 5_000, requestTimeoutMs: 30_000 };

export interface HttpServer extends Closable {
  /** The bound port (the kernel's choice when asked for port 0). */
  readonly port: number;
}

/** Inbound sockets, for the LAN side. */
export interface Listeners {
  /** An IPv6 wildcard (`::`) is IPv6-only, so that `0.0.0.0` can be bound on the same port. */
  listenUdp(address: string, port: number, onMessage: DatagramReceiver, onError?: UdpErrorHandler): Promise<UdpSocket>;
  /** As listenUdp, an IPv6 wildcard is IPv6-only (where the runtime allows: not on Deno). */
  listenTcp(address: string, port: number, onConnection: (conn: TcpConnection, from: Peer) => StreamHandlers | null): Promise<Closable>;
  /**
   * Serves HTTP/1.1 on address:port; rejects when the port cannot be bound. `limits` are kept
   * where the runtime allows (Node and Bun: all; Deno's serve offers none of them, see
   * adapters/deno/http.ts).
   */
  listenHttp(address: string, port: number, handler: HttpHandler, limits?: HttpLimits): Promise<HttpServer>;
}

export interface Closable {
  close(): void | Promise<void>;
}

export interface FileSystem {
  /** The file's text, or null when it does not exist. */
  readText(path: string): Promise<string | null>;
  /** The file's bytes, or null when it does not exist. */
  readBytes(path: string): Promise<Uint8Array | null>;
  /**
   * Replaces the file so that a crash or power cut at any moment leaves either the old content
   * or the new, whole: the bytes go to a temporary file in the same folder, which is fsynced and
   * renamed over the target, then the folder is fsynced so the rename itself is on disk. The
   * temporary file has an unpredictable name, is created exclusively (never through a link)
   * with mode 0600, and the ones earlier writes left when cut short are removed.
   */
  writeFileAtomic(path: string, bytes: Uint8Array): Promise<void>;
  /** Renames within one file system (setting a damaged file aside, rotating a log); replaces `to`. */
  rename(from: string, to: string): Promise<void>;
  /** Adds the bytes at the end of the file, creating it (mode 0600: it holds clients' addresses) when it does not exist. */
  appendBytes(path: string, bytes: Uint8Array): Promise<void>;
  /** The file's size in bytes, or null when it does not exist. */
  fileSize(path: string): Promise<number | null>;
  /**
   * The file's size and last modification time (ms since the epoch, sub-ms where the system
   * keeps it), or null when it does not exist: enough to notice a change without reading it.
   */
  stat(path: string): Promise<FileStat | null>;
  /**
   * The CRC-32 (IEEE 802.3, zlib's) of `bytes` following bytes whose CRC was `crc` (0 to
   * start), where the runtime has a native one: what checks a snapshot read back. Absent, the
   * snapshot code computes it in JavaScript, ~10 times slower.
   */
  crc32?(bytes: Uint8Array, crc: number): number;
}

export interface FileStat {
  readonly sizeBytes: number;
  readonly mtimeMs: number;
}

/** One address of one of this machine's network interfaces, with its on-link prefix length. */
export interface InterfaceSubnet {
  /** Interface name (eth0, br-lan), for logs. */
  readonly name: string;
  /** As the system reports it, without a zone. */
  readonly address: string;
  /** Length of the on-link prefix: 24 for 192.168.1.1/24, 64 for most IPv6 LANs. */
  readonly prefixBits: number;
  readonly family: 4 | 6;
}

/** This machine's interfaces, read fresh on each call (addresses come and go). */
export interface Interfaces {
  /**
   * The addresses of the interfaces (Node and Bun list only interfaces that are up; Deno lists
   * addresses on interfaces that are down too); throws when the system will not say.
   */
  subnets(): InterfaceSubnet[];
}

/** SIGUSR1 asks for a cache snapshot now. */
export type SignalName = 'SIGTERM' | 'SIGINT' | 'SIGHUP' | 'SIGUSR1' | 'SIGUSR2';

/** One runtime: what main/ hands to the CLI. */
export interface Runtime {
  readonly name: 'node' | 'deno' | 'bun';
  readonly version: string;
  readonly args: readonly string[];
  readonly clock: Clock;
  readonly timers: Timers;
  readonly entropy: Entropy;
  readonly net: Network;
  readonly listeners: Listeners;
  readonly fs: FileSystem;
  /** For `--allow local`: the subnets of this machine's interfaces. */
  readonly interfaces: Interfaces;
  /** An environment variable, or undefined when unset. */
  env(name: string): string | undefined;
  onSignal(signal: SignalName, handler: () => void): void;
  exit(code: number): never;
  readonly stdout: TextSink;
  /** Where logs go. */
  readonly stderr: TextSink;
}

export interface TextSink {
  write(text: string): void;
}

/** The core's view of the runtime: only what the pipeline itself uses. */
export type CorePorts = Pick<Runtime, 'clock' | 'timers' | 'entropy' | 'net'>;
