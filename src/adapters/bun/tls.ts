// TLS client connections: Bun implements node:tls, including the peer certificate that SPKI
// pinning needs and tls.connect({ socket }) over a node:net socket for a proxy's tunnel, so the
// Node adapter's code serves as it is.

export { connectTls } from '../node/tls.ts';
