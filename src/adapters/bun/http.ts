// HTTP on Bun's node:http, with the Node adapter's code as it is. Not Bun.serve: it offers
// `idleTimeout` alone, which closed a connection sending partial headers only after about six
// times the timeout (2 s gave 12 s on Bun 1.4.5; with the default, #15 saw ~40 s), and it has
// no connection cap and no connection event from which to keep one (#15). Bun's node:http
// emits 'connection' and 'request', so the Node adapter's own deadlines and cap hold here, and
// it binds exclusively (a second server on the port gets EADDRINUSE; checked on Bun 1.4.5).

export { listenHttp } from '../node/http.ts';
