// UDP on Bun.udpSocket.

import type { UdpReceiver, UdpSocket } from '../../core/ports.ts';
import { bun } from './bun-api.ts';

async function open(address: string, port: number, onMessage: UdpReceiver): Promise<UdpSocket> {
  const s = await bun.udpSocket({
    hostname: address,
    port,
    socket: { data: (_s, data, fromPort, fromAddress) => onMessage(data, { address: fromAddress, port: fromPort }) },
  });
  let closed = false;
  return {
    port: s.port,
    send: (bytes, toPort, toAddress) => {
      if (!closed) s.send(bytes, toPort, toAddress);
    },
    close: () => {
      if (closed) return;
      closed = true;
      s.close();
    },
  };
}

export const listenUdp = open;
