// DNS over a byte stream: each message is preceded by its length in two bytes (RFC 1035
// §4.2.2, RFC 7766 §8). TCP may split a message across reads or join several in one read,
// so bytes are gathered until a whole message is present.

export interface FrameReader {
  push(chunk: Uint8Array): void;
  /** Bytes held for a message not yet complete. */
  readonly pending: number;
}

export function frame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + 2);
  out[0] = message.length >>> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

/**
 * Calls `onFrame` for each whole message. A declared length over `maxBytes` calls
 * `onOversize` and stops reading: the stream cannot be trusted to resynchronise.
 */
export function createFrameReader(
  maxBytes: number,
  onFrame: (message: Uint8Array) => void,
  onOversize: (declared: number) => void,
): FrameReader {
  let buf: Uint8Array = new Uint8Array(0);
  let stopped = false;
  return {
    push(chunk) {
      if (stopped) return;
      buf = appendBytes(buf, chunk);
      let p = 0;
      while (buf.length - p >= 2) {
        const len = (buf[p] << 8) | buf[p + 1];
        if (len > maxBytes) {
          stopped = true;
          buf = new Uint8Array(0);
          onOversize(len);
          return;
        }
        if (buf.length - p - 2 < len) break;
        // slice, not subarray: the handler may keep the message after this buffer is reused.
        onFrame(buf.slice(p + 2, p + 2 + len));
        p += 2 + len;
      }
      buf = p === 0 ? buf : buf.slice(p);
    },
    get pending() {
      return buf.length;
    },
  };
}

/** What a stream reader holds so far, with `chunk` after it: the chunk itself when nothing is held. */
export function appendBytes(held: Uint8Array, chunk: Uint8Array): Uint8Array {
  if (held.length === 0) return chunk;
  const joined = new Uint8Array(held.length + chunk.length);
  joined.set(held);
  joined.set(chunk, held.length);
  return joined;
}
