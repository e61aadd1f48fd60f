// Gzip for relay bodies through the web-standard CompressionStream, which Node, Deno and Bun
// all have, so the core needs no runtime's zlib. Reading is capped on the decompressed bytes:
// the protocol's limits count after decompression, and a small gzip bomb must stop at the cap.

/** The DOM typings want bodies backed by a plain ArrayBuffer; ours always are. */
export function asBody(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}

export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([asBody(bytes)]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Reads a stream whole, or null once it passes `max` bytes. Rejects if the stream errors (bad gzip). */
export async function readCapped(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Gunzips `bytes`, or null past `max` decompressed bytes; rejects on bad gzip. */
export function gunzipCapped(bytes: Uint8Array, max: number): Promise<Uint8Array | null> {
  return readCapped(new Blob([asBody(bytes)]).stream().pipeThrough(new DecompressionStream('gzip')), max);
}
