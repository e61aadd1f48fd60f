// The HTTP side of a running server, as one Fetch API handler (Request → Response): the
// adapters serve it with their runtime's own HTTP server. Paths:
//   /healthz   200 "ok" while the process runs; never needs the token
//   /readyz    200 once the DNS listeners are bound, 503 before; JSON saying how degraded
//   /metrics   Prometheus text format 0.0.4
//   /          the status page: static HTML that holds no data, so it is served without the
//              token (a browser cannot send one when opening a page); its script asks for
//              the token and sends it with every request for data
//   /api/stats, /api/queries   JSON for the status page
//   /api/network-changed       POST only: the network changed, redial every upstream (#12)
// GET and HEAD elsewhere; with a token configured, every path but /healthz and / needs it.

import type { Clock, HttpHandler } from '../../core/ports.ts';
import type { QueryLog } from '../query-log.ts';
import { createBearerCheck } from './auth.ts';
import { EXPOSITION_CONTENT_TYPE, formatExposition } from './exposition.ts';
import { readiness, type StaleWatch } from './health.ts';
import { createMetricsCollector } from './metrics.ts';
import { stats, type StatsView } from './stats.ts';
import { STATUS_PAGE_HTML } from './status-page.ts';

import type { Explanation } from '../../pipeline/explain.ts';
import { typeNumber } from '../../core/wire/type-names.ts';

export type HttpView = StatsView & {
  readonly queryLog: QueryLog | null;
  /** Which stage would answer a name (src/pipeline/explain.ts); absent: /api/explain is 404. */
  readonly pipeline: { readonly explain?: (name: string, qtype: number) => readonly Explanation[] };
  /** Drops every pooled upstream connection (#12); absent: /api/network-changed is 404. */
  readonly networkChanged?: (why: string) => void;
};

/** The page may run its own inline script and style and talk to this server, nothing else. */
const STATUS_PAGE_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
const QUERIES_DEFAULT_LIMIT = 100;

export interface HttpOptions {
  /** Bearer token for every path but /healthz; null for none. */
  readonly token: string | null;
  readonly clock: Clock;
  readonly staleWatch: StaleWatch;
}

interface Route {
  /** Served without the token. */
  readonly open?: boolean;
  /** Takes POST only (an action), rather than GET and HEAD (a reading). */
  readonly post?: boolean;
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
    ['/', { respond: () => statusPage(200) }],
    [
      '/api/network-changed',
      {
        post: true,
        respond: () => {
          if (!view.networkChanged) return text(404, 'not found\n');
          // Changes within a second of the last are one: a burst of hotplug calls redials once.
          view.networkChanged('POST /api/network-changed');
          return json(202, { redialing: true });
        },
      },
    ],
    ['/api/stats', { respond: () => json(200, stats(view, options.staleWatch, options.clock.now())) }],
    [
      '/api/queries',
      {
        respond: (request) => {
          const log = view.queryLog;
          const asked = Number(new URL(request.url).searchParams.get('limit') ?? QUERIES_DEFAULT_LIMIT);
          const limit = Number.isInteger(asked) && asked > 0 ? asked : QUERIES_DEFAULT_LIMIT;
          // Always 200, so the status page's request never shows up as an error when the log is off.
          return json(200, { enabled: log !== null, capacity: log?.capacity ?? 0, queries: log ? log.recent(limit) : [] });
        },
      },
    ],
    [
      '/api/explain',
      {
        respond: (request) => {
          const params = new URL(request.url).searchParams;
          const name = params.get('name');
          const qtype = typeNumber(params.get('type') ?? 'A');
          if (!view.pipeline.explain) return text(404, 'not found\n');
          if (!name || qtype === null) return json(400, { error: 'give ?name=NAME and optionally &type=A (a mnemonic or a number)' });
          return json(200, { name, type: params.get('type') ?? 'A', stages: view.pipeline.explain(name, qtype) });
        },
      },
    ],
  ]);

  function statusPage(status: number): Response {
    return new Response(STATUS_PAGE_HTML, {
      status,
      headers: {
        ...COMMON_HEADERS,
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': STATUS_PAGE_CSP,
        'referrer-policy': 'no-referrer',
        ...(status === 401 ? { 'www-authenticate': 'Bearer realm="holdfast"' } : {}),
      },
    });
  }

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
      // A browser opening the page cannot send a bearer header: it gets 401 all the same, with
      // the page's static shell (no figures in it), whose form asks for the token and sends it
      // on every request for data.
      if (path === '/' && request.method === 'GET') return statusPage(401);
      return text(401, 'unauthorized: send "Authorization: Bearer TOKEN"\n', { 'www-authenticate': 'Bearer realm="holdfast"' });
    }
    if (!route) return text(404, 'not found\n');
    if (route.post) return request.method === 'POST' ? route.respond(request) : text(405, 'method not allowed\n', { allow: 'POST' });
    if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, 'method not allowed\n', { allow: 'GET, HEAD' });
    const response = route.respond(request);
    // HEAD: the same status and headers, no body.
    return request.method === 'HEAD' ? new Response(null, { status: response.status, headers: response.headers }) : response;
  };
}
