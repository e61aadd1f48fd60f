// The floor Bun itself sets under the bench's load (#11): the least a JavaScript DNS server on
// Bun.udpSocket can spend per query, to read Holdfast's CPU per hit and per miss against.
//   bun build/bench/udp-floor.ts echo PORT             a cache hit's floor: each query sent back
//                                                      at once with QR set (one receive, one send)
//   bun build/bench/udp-floor.ts forward PORT UPSTREAM a miss's floor: each query relayed as it
//                                                      is over one connected socket to
//                                                      127.0.0.1:UPSTREAM and the reply back
//   bun build/bench/udp-floor.ts mixed PORT UPSTREAM   both at once, as `npm run bench` runs it
//                                                      beside the servers (its "bun floor" column):
//                                                      a name whose first label starts with "h"
//                                                      (the bench's hit set) is echoed, any other
//                                                      relayed, so each phase meets its own floor
// Not a DNS server (no parsing, no checks, IDs not changed): a measuring stick only. Drive it with
// dnsperf the way build/bench.mjs drives the servers (pinned to the server core).

declare const Bun: {
  udpSocket(options: unknown): Promise<{ send(data: Uint8Array, port?: number, address?: string): boolean }>;
};
declare const process: { argv: string[]; stdout: { write(s: string): void } };

const [mode, portText, upstreamText] = process.argv.slice(2);
if (!['echo', 'forward', 'mixed'].includes(mode) || !(Number(portText) > 0)) throw new Error('usage: echo PORT | forward PORT UPSTREAM_PORT | mixed PORT UPSTREAM_PORT');
// Byte 12 is the first label's length, byte 13 its first letter.
const echoes = (data: Uint8Array) => mode === 'echo' || (mode === 'mixed' && data[12] > 0 && data[13] === 0x68);

// Who asked each ID, for forward mode.
const askedBy = new Map<number, [number, string]>();
let upstream: { send(data: Uint8Array): boolean } | null = null;

const server = await Bun.udpSocket({
  hostname: '127.0.0.1',
  port: Number(portText),
  socket: {
    data(s: { send(d: Uint8Array, p: number, a: string): boolean }, data: Uint8Array, port: number, address: string) {
      if (echoes(data)) {
        data[2] |= 0x80;
        s.send(data, port, address);
        return;
      }
      askedBy.set((data[0] << 8) | data[1], [port, address]);
      upstream!.send(data);
    },
  },
});

if (mode !== 'echo') {
  upstream = await Bun.udpSocket({
    hostname: '127.0.0.1',
    port: 0,
    connect: { hostname: '127.0.0.1', port: Number(upstreamText) },
    socket: {
      data(_s: unknown, data: Uint8Array) {
        const id = (data[0] << 8) | data[1];
        const client = askedBy.get(id);
        if (!client) return;
        askedBy.delete(id);
        server.send(data, client[0], client[1]);
      },
    },
  });
}
process.stdout.write('ready\n');
