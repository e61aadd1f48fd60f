// TLS client connections: Bun implements node:tls, including the peer certificate that SPKI
// pinning needs, so the Node adapter's code serves as it is.

export { connectTls } from '../node/tls.ts';
