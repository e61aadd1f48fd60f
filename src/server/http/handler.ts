// The HTTP side of a running server, as one Fetch API handler (Request → Response): the
// adapters serve it with their runtime's own HTTP server. Paths:
//   /healthz   200 "ok" while the process runs; never needs the token
//   /readyz    200 once the DNS listeners are bound, 503 before; JSON saying how degraded
//   /metrics   Prometheus text format 0.0.4
// Only GET and HEAD; with a token configured, every path but /healthz needs it.

import type { Clock, HttpHandler } from '../../core/ports.ts';
import { createBearerCheck } from './auth.ts';
import { EXPOSITION_CONTENT_TYPE, formatExposition } from './exposition.ts';
import { readiness, type ReadinessView, type StaleWatch } from './health.ts';
import { createMetricsCollector, type MetricsView } from './metrics.ts';

export type HttpView = MetricsView & ReadinessView;

export interface HttpOptions {
  /** Bearer token for every path but /healthz; null for none. */
  readonly token: string | null;
  readonly clock: Clock;
  readonly staleWatch: StaleWatch;
}

interface Route {
  /** Served without the token. */
  readonly open?: boolean;
  respond(request: Request): Response;
}

const COMMON_HEADERS = {
  // Every answer describes this moment; a proxy or browser must not keep it.
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { ...COMMON_HEADERS, 'content-type': 'text/plain; charset=utf-8', ...headers } });
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value, null, 2) + '\n', { status, headers: { ...COMMON_HEADERS, 'content-type': 'application/json' } });
}

export function createHttpHandler(view: HttpView, options: HttpOptions): HttpHandler {
  const authorized = createBearerCheck(options.token);
  const collect = createMetricsCollector(view);
  const routes = new Map<string, Route>([
    ['/healthz', { open: true, respond: () => text(200, 'ok\n') }],
    [
      '/readyz',
      {
        respond: () => {
          const r = readiness(view, options.staleWatch, options.clock.now());
          return json(r.ready ? 200 : 503, r);
        },
      },
    ],
    [
      '/metrics',
      { respond: () => new Response(formatExposition(collect(options.clock.now())), { headers: { ...COMMON_HEADERS, 'content-type': EXPOSITION_CONTENT_TYPE } }) },
    ],
  ]);

  return (request) => {
    let path: string;
    try {
      path = new URL(request.url).pathname;
    } catch {
      return text(400, 'bad request\n');
    }
    const route = routes.get(path);
    // The token is checked before anything else, so without it even which paths exist stays unsaid.
    if (!route?.open && !authorized(request.headers.get('authorization'))) {
      return text(401, 'unauthorized: send "Authorization: Bearer TOKEN"\n', { 'www-authenticate': 'Bearer realm="holdfast"' });
    }
    if (!route) return text(404, 'not found\n');
    if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, 'method not allowed\n', { allow: 'GET, HEAD' });
    const response = route.respond(request);
    // HEAD: the same status and headers, no body.
    return request.method === 'HEAD' ? new Response(null, { status: response.status, headers: response.headers }) : response;
  };
}
