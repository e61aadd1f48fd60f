// HTTP on Bun.serve, which takes a Fetch API handler as it is.

import type { HttpHandler, HttpServer } from '../../core/ports.ts';
import { bun } from './bun-api.ts';

export async function listenHttp(address: string, port: number, handler: HttpHandler): Promise<HttpServer> {
  // Bun.serve throws at once (EADDRINUSE and the like) when it cannot bind.
  const server = bun.serve({
    hostname: address,
    port,
    // Never Bun's development error page, with its stack traces, on a LAN-facing port.
    development: false,
    // Said outright: with development off, Bun 1.4 otherwise sets SO_REUSEPORT, and a second
    // server on the same port would start and silently take half the requests.
    reusePort: false,
    fetch: (request, s) => handler(request, s.requestIP(request) ?? { address: '', port: 0 }),
    error: () => new Response('internal error\n', { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } }),
  });
  return {
    port: server.port,
    close: async () => {
      await server.stop(true);
    },
  };
}
