// Node's modules for TLS, HTTP and outgoing TCP, imported on first use rather than at start.
// A builtin imported at the top of a file is loaded when the program starts, used or not, and on
// Bun that maps and runs its code: node:http, node:tls, node:net and node:crypto together were
// about 4 MiB of the executable's RSS at start (#11), while a router forwarding plain DNS with
// no HTTP endpoint uses none of them. The bundlers leave `import('node:…')` in place, so these
// stay unloaded until a TLS upstream, a TCP upstream on Node or the HTTP endpoint needs them.

import type * as Crypto from 'node:crypto';
import type * as Http from 'node:http';
import type * as Net from 'node:net';
import type * as Stream from 'node:stream';
import type * as Tls from 'node:tls';

export interface TlsModules {
  readonly tls: typeof Tls;
  readonly net: typeof Net;
  readonly crypto: typeof Crypto;
}

export interface HttpModules {
  readonly http: typeof Http;
  readonly stream: typeof Stream;
}

let tls: Promise<TlsModules> | undefined;
let http: Promise<HttpModules> | undefined;
let net: Promise<typeof Net> | undefined;

export const loadTls = (): Promise<TlsModules> =>
  (tls ??= Promise.all([import('node:tls'), loadNet(), import('node:crypto')]).then(([tls, net, crypto]) => ({ tls, net, crypto })));

export const loadHttp = (): Promise<HttpModules> => (http ??= Promise.all([import('node:http'), import('node:stream')]).then(([http, stream]) => ({ http, stream })));

export const loadNet = (): Promise<typeof Net> => (net ??= import('node:net'));
