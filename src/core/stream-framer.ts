// DNS over a byte stream: each message is preceded by its length in two bytes (RFC 1035
// §4.2.2, RFC 7766 §8). TCP may split a message across reads or join several in one read,
// so bytes are gathered until a whole message is present.

export interface FrameReader {
  push(chunk: Uint8Array): void;
  /** Bytes held: whole messages not yet taken, and the start of one not yet complete. */
  readonly pending: number;
  /** Whether the next message is incomplete (the reader waits on the peer, not on its consumer). */
  readonly partial: boolean;
  /** Hands over held messages again, as far as the consumer accepts them. */
  resume(): void;
}

export function frame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + 2);
  out[0] = message.length >>> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

/**
 * Calls `onFrame` for each whole message while `accepting()` says so; what it does not take
 * yet stays held, as raw bytes, until resume(). A declared length over `maxBytes` calls
 * `onOversize` and stops reading: the stream cannot be trusted to resynchronise.
 */
export function createFrameReader(
  maxBytes: number,
  onFrame: (message: Uint8Array) => void,
  onOversize: (declared: number) => void,
  accepting: () => boolean = () => true,
): FrameReader {
  let buf: Uint8Array = new Uint8Array(0);
  let stopped = false;
  let partial = false;
  function parse(): void {
    let p = 0;
    partial = false;
    while (accepting()) {
      if (buf.length - p < 2) {
        partial = buf.length > p;
        break;
      }
      const len = (buf[p] << 8) | buf[p + 1];
      if (len > maxBytes) {
        stopped = true;
        buf = new Uint8Array(0);
        onOversize(len);
        return;
      }
      if (buf.length - p - 2 < len) {
        partial = true;
        break;
      }
      // slice, not subarray: the handler may keep the message after this buffer is reused.
      const message = buf.slice(p + 2, p + 2 + len);
      p += 2 + len;
      onFrame(message);
    }
    buf = p === 0 ? buf : buf.slice(p);
  }
  return {
    push(chunk) {
      if (stopped) return;
      buf = appendBytes(buf, chunk);
      parse();
    },
    resume() {
      if (!stopped && buf.length > 0) parse();
    },
    get pending() {
      return buf.length;
    },
    get partial() {
      return partial;
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
