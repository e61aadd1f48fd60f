// One measurement for build/bench/entry-bytes.mjs, in the runtime that runs this file: fill a
// cache store with COUNT entries made the way the server makes them (a query's key, a reply
// delivered as a Buffer like a socket delivers it, scanMessage, toStored), and print as JSON
// how much the heap grew after a full collection, against what entryBytes() counted.
//   bun build/bench/entry-bytes-child.ts SHAPE COUNT [VARIANT]
//   node --expose-gc <this file bundled by esbuild> SHAPE COUNT [VARIANT]
// "variable" below is the key, the reply and 6 bytes a TTL pair; the rest (record header, slot
// fields, index share) is the overhead entryBytes() counts as 22 + ENTRY_OVERHEAD_BYTES.
// VARIANT (a what-if for cheaper entries): "as-is", "ttls-exact" (the TTL array copied to its
// exact length), "ttls-int32" (the TTL pairs in an Int32Array) or "wire-copy" (the wire bytes
// in a Uint8Array of their own rather than a Buffer view of the whole datagram).

import { scanMessage, toStored, type StoredMessage } from '../../src/core/wire/message.ts';
import { textToName } from '../../src/core/wire/names.ts';
import { parseQuery } from '../../src/core/wire/query.ts';
import { ENTRY_OVERHEAD_BYTES, createCacheStore, entryBytes } from '../../src/pipeline/cache/store.ts';

declare const Bun: { gc(full: boolean): void } | undefined;
declare const process: { argv: string[]; memoryUsage(): Record<string, number>; stdout: { write(s: string): void } };

const u16 = (v: number) => [(v >>> 8) & 0xff, v & 0xff];
const u32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const rr = (owner: number[], type: number, ttl: number, rdata: number[]) => [...owner, ...u16(type), ...u16(1), ...u32(ttl), ...u16(rdata.length), ...rdata];
const OPT = [0, ...u16(41), ...u16(1232), 0, 0, 0, 0, 0, 0];
const PTR = [0xc0, 12];

/** Reply shapes: what a forwarder keeps most of. */
const SHAPES: Record<string, (qname: number[]) => { flags3: number; an: number[][]; ns: number[][] }> = {
  // The bench's wildcard zone: one A record.
  a: () => ({ flags3: 0x80, an: [rr(PTR, 1, 86_400, [192, 0, 2, 1])], ns: [] }),
  // A CDN name: a CNAME, then two A records for its target.
  cname: () => {
    const target = [...textToName('edge-17.cdn.example.net')];
    return { flags3: 0x80, an: [rr(PTR, 5, 300, target), rr(target, 1, 60, [198, 51, 100, 7]), rr(target, 1, 60, [198, 51, 100, 8])], ns: [] };
  },
  // NXDOMAIN with the zone's SOA (RFC 2308).
  nxdomain: () => {
    const soa = [...textToName('ns1.example.com'), ...textToName('hostmaster.example.com'), ...u32(1), ...u32(3600), ...u32(600), ...u32(86400), ...u32(300)];
    return { flags3: 0x83, an: [], ns: [rr([...textToName('example.com')], 6, 300, soa)] };
  },
};

function gc(): void {
  if (typeof Bun !== 'undefined') {
    Bun.gc(true);
    Bun.gc(true);
  } else {
    const g = (globalThis as { gc?: () => void }).gc;
    if (!g) throw new Error('run node with --expose-gc');
    g();
    g();
  }
}

/** Heap bytes in use: the engine's heap plus memory held outside it (array buffers). */
function heapBytes(): { heap: number; rss: number } {
  const m = process.memoryUsage();
  // Bun's heapUsed already counts the extra memory (array buffer contents) that external reports.
  if (typeof Bun !== 'undefined') return { heap: m.heapUsed, rss: m.rss };
  // Node: heapUsed + external (external includes arrayBuffers). Bun: heapUsed is JSC's heap
  // size and external its "extra memory" (array buffer contents among it).
  return { heap: m.heapUsed + m.external, rss: m.rss };
}

const [shapeName, countText, variant = 'as-is'] = process.argv.slice(2);
const shape = SHAPES[shapeName];
const count = Number(countText);
if (!shape || !(count > 0)) throw new Error(`usage: SHAPE(${Object.keys(SHAPES).join('|')}) COUNT [as-is|ttls-exact|ttls-int32|wire-copy]`);

const store = createCacheStore(count, () => 0, 0);
// What each message would look like after the variant: the TTL pairs in another container.
const reshape = (m: StoredMessage): StoredMessage => {
  if (variant === 'ttls-exact') return { ...m, ttls: m.ttls.slice() };
  if (variant === 'ttls-int32') return { ...m, ttls: Int32Array.from(m.ttls) as unknown as number[] };
  if (variant === 'wire-copy') return { ...m, wire: new Uint8Array(m.wire) };
  return m;
};

function entry(i: number): [string, StoredMessage] {
  const qname = [...textToName(`r${i}.bench.test`)];
  const header = (flags3: number, an: number, ns: number, ar: number) => [...u16(i & 0xffff), 0x81, flags3, ...u16(1), ...u16(an), ...u16(ns), ...u16(ar)];
  const query = Uint8Array.from([...u16(i & 0xffff), 0x01, 0x00, ...u16(1), ...u16(0), ...u16(0), ...u16(1), ...qname, ...u16(1), ...u16(1), ...OPT]);
  const parsed = parseQuery(query);
  if (!parsed.ok) throw new Error(parsed.problem);
  const s = shape(qname);
  const bytes = [...header(s.flags3, s.an.length, s.ns.length, 1), ...qname, ...u16(1), ...u16(1), ...s.an.flat(), ...s.ns.flat(), ...OPT];
  // As a socket hands it over: a Buffer over its own ArrayBuffer (Node's dgram and Bun's
  // udpSocket both do), so toStored's slice is Buffer#slice, a view that keeps the datagram.
  const reply = Buffer.from(Uint8Array.from(bytes).buffer);
  const scan = scanMessage(reply);
  if (typeof scan === 'string') throw new Error(scan);
  return [parsed.query.key, reshape(toStored(reply, scan, 86_400))];
}

// Warm up first, so code and the engine's own tables are in the baseline, then start empty.
for (let i = 0; i < 2_000; i++) entry(i);
gc();
const before = heapBytes();
let counted = 0;
let variable = 0;
for (let i = 0; i < count; i++) {
  const [key, message] = entry(i);
  const e = store.set(key, message, 0, 3_600_000);
  counted += entryBytes(e.key, e.message);
  variable += e.key.length + e.message.wire.length + 8 * e.message.ttls.length;
}
gc();
const after = heapBytes();
const grewBytes = after.heap - before.heap;
process.stdout.write(
  `${JSON.stringify({
    runtime: typeof Bun !== 'undefined' ? 'bun' : 'node',
    shape: shapeName,
    variant,
    count,
    entries: store.size,
    storeBytes: store.bytes,
    counted,
    heapGrowthPerEntry: grewBytes / count,
    rssGrowthPerEntry: (after.rss - before.rss) / count,
    variablePerEntry: variable / count,
    // The figure ENTRY_OVERHEAD_BYTES stands for: growth less the variable parts.
    overheadPerEntry: (grewBytes - variable) / count,
    overheadNow: ENTRY_OVERHEAD_BYTES,
  })}\n`,
);
