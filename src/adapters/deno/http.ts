// HTTP on Deno.serve, which takes a Fetch API handler as it is.
//
// The HttpLimits (#15) are not kept here: Deno.serve's TCP options (Deno 2.9) are hostname,
// port, reusePort and tcpBacklog, with no header or request timeout, no connection cap and no
// connection event from which to keep either. The shipped executable is Bun's, which keeps
// them all (adapters/bun/http.ts); on Deno, keep the HTTP port on loopback or behind a proxy.

import type { HttpHandler, HttpLimits, HttpServer } from '../../core/ports.ts';

export function listenHttp(address: string, port: number, handler: HttpHandler, _limits?: HttpLimits): Promise<HttpServer> {
  return new Promise((resolve, reject) => {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve(
        {
          hostname: address,
          port,
          // Deno.serve prints "Listening on ..." to stdout unless told otherwise; we log our own line.
          onListen: () => {},
          onError: () => new Response('internal error\n', { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } }),
        },
        (request, info) => handler(request, { address: info.remoteAddr.hostname, port: info.remoteAddr.port }),
      );
    } catch (e) {
      // Deno.serve throws at once (AddrInUse, PermissionDenied) when it cannot bind.
      reject(e);
      return;
    }
    resolve({
      port: server.addr.port,
      close: () => server.shutdown(),
    });
  });
}
