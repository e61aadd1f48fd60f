// HTTP on node:http, converted to and from the Fetch API's Request and Response, which the
// handler speaks (Deno and Bun serve those natively).

import type http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DEFAULT_HTTP_LIMITS, type HttpHandler, type HttpLimits, type HttpServer } from '../../core/ports.ts';
import { loadHttp } from './builtins.ts';

/** A request whose head cannot be made into a Request (a bad header, a forbidden method). */
function plain(res: http.ServerResponse, status: number, text: string): void {
  const body = new TextEncoder().encode(text);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
  res.end(body);
}

/**
 * Deadlines per connection, kept by us rather than by node:http alone: Node checks its own
 * headersTimeout only every connectionsCheckingInterval (30 s by default: a connection sending
 * partial headers lived ~40 s), and Bun's node:http applies it only to a connection that keeps
 * sending, leaving a silent one open (#15). One timer per connection: from its opening (or its
 * last response) to a whole request head, then from the head to the response sent.
 */
function guardConnections(server: http.Server, limits: HttpLimits): void {
  const open = new Set<Socket>();
  const deadlines = new WeakMap<Socket, ReturnType<typeof setTimeout>>();
  const arm = (socket: Socket, ms: number) => {
    clearTimeout(deadlines.get(socket));
    deadlines.set(socket, setTimeout(() => socket.destroy(), ms));
  };
  server.on('connection', (socket: Socket) => {
    if (open.size >= limits.maxConnections) {
      socket.destroy();
      return;
    }
    open.add(socket);
    arm(socket, limits.headersTimeoutMs);
    socket.on('close', () => {
      open.delete(socket);
      clearTimeout(deadlines.get(socket));
    });
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    arm(socket, limits.requestTimeoutMs);
    res.on('finish', () => {
      if (!socket.destroyed) arm(socket, limits.headersTimeoutMs);
    });
  });
}

export async function listenHttp(address: string, port: number, handler: HttpHandler, limits: HttpLimits = DEFAULT_HTTP_LIMITS): Promise<HttpServer> {
  const { http, stream } = await loadHttp();
  const server = http.createServer(
    {
      // Node's own checks as well, where they come sooner; its interval is what made them slow.
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
      keepAliveTimeout: limits.headersTimeoutMs,
    },
    async (req, res) => {
      res.on('error', () => {});
      let request: Request;
      try {
        const headers = new Headers();
        for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
        // A body is handed over as a stream, read only by a handler that wants it (the relay),
        // which also bounds it. The path goes after a fixed origin, so that a strange Host header
        // cannot make the URL invalid and "//x" stays a path.
        const target = req.url ?? '/';
        const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
        const init: RequestInit & { duplex?: 'half' } = { method: req.method, headers };
        if (hasBody) {
          init.body = stream.Readable.toWeb(req) as ReadableStream<Uint8Array>;
          init.duplex = 'half';
        }
        request = new Request(target.startsWith('/') ? `http://localhost${target}` : target, init);
      } catch {
        plain(res, 400, 'bad request\n');
        return;
      }
      if (request.body === null) req.resume();
      try {
        const response = await handler(request, { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 });
        const body = new Uint8Array(await response.arrayBuffer());
        const headers: Record<string, string> = {};
        response.headers.forEach((value, name) => (headers[name] = value));
        if (req.method !== 'HEAD') headers['content-length'] = String(body.length);
        res.writeHead(response.status, headers);
        res.end(body);
      } catch {
        if (!res.headersSent) plain(res, 500, 'internal error\n');
        else res.destroy();
      }
    },
  );
  // Refused by the kernel's accept as well on Node (Bun's node:http ignores it): see guardConnections.
  server.maxConnections = limits.maxConnections;
  guardConnections(server, limits);
  server.on('clientError', (_e, socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port, ipv6Only: address.includes(':') }, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            // A scraper's keep-alive connection would otherwise hold close() open.
            server.closeAllConnections();
          }),
      });
    });
  });
}
