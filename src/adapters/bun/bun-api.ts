// The slice of Bun's API this adapter uses, declared here so the same files type-check under
// Deno and tsc without Bun's type package.

export interface BunUdpSocket {
  readonly port: number;
  send(data: Uint8Array, port: number, address: string): boolean;
  /** A socket opened with `connect` sends to its peer only. */
  send(data: Uint8Array): boolean;
  close(): void;
}

export interface BunSocket<T> {
  data: T;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  write(data: Uint8Array): number;
  end(): void;
  terminate?(): void;
  setNoDelay?(on: boolean): void;
  /** Stop and restart reading (TCP backpressure on the peer). */
  pause?(): void;
  resume?(): void;
}

export interface BunSocketHandlers<T> {
  open?(s: BunSocket<T>): void;
  data?(s: BunSocket<T>, data: Uint8Array): void;
  drain?(s: BunSocket<T>): void;
  close?(s: BunSocket<T>, error?: Error): void;
  /** The peer sent FIN. */
  end?(s: BunSocket<T>): void;
  error?(s: BunSocket<T>, error: Error): void;
  connectError?(s: BunSocket<T>, error: Error): void;
}

export interface BunServer {
  readonly port: number;
  stop(closeActiveConnections?: boolean): void | Promise<void>;
  requestIP(request: Request): { readonly address: string; readonly port: number } | null;
}

export interface BunApi {
  udpSocket(options: {
    hostname?: string;
    port?: number;
    /** Undocumented bit flags (src/adapters/bun/udp.ts says which). */
    flags?: number;
    /** Connects the socket: datagrams from anyone else are dropped, and ICMP errors reported. */
    connect?: { hostname: string; port: number };
    socket?: {
      data?(s: BunUdpSocket, data: Uint8Array, port: number, address: string): void;
      error?(a: unknown, b?: unknown): void;
    };
  }): Promise<BunUdpSocket>;
  listen<T>(options: { hostname: string; port: number; allowHalfOpen?: boolean; ipv6Only?: boolean; socket: BunSocketHandlers<T> }): { stop(closeActive?: boolean): void; readonly port: number };
  connect<T>(options: { hostname: string; port: number; socket: BunSocketHandlers<T> }): Promise<BunSocket<T>>;
  serve(options: {
    hostname: string;
    port: number;
    development?: boolean;
    reusePort?: boolean;
    fetch(request: Request, server: BunServer): Response | Promise<Response>;
    error?(error: Error): Response;
  }): BunServer;
  /** zlib's CRC-32 (IEEE), continuing `seed`, the CRC of the bytes before these. */
  readonly hash: { crc32(data: Uint8Array, seed?: number): number };
  readonly version: string;
}

export const bun = (globalThis as unknown as { Bun: BunApi }).Bun;
