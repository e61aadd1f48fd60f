// Local data from every source in one table: name → records. Built whole from what the files
// and flags hold, then swapped in at once, so a query never sees half a reload.

import { ancestorsOf, isAtOrUnder, keyToText, keyToWire, labelCount, reverseKey } from './names.ts';
import { RecordType, type LocalRecord } from './records.ts';
import type { HostsEntry, Lease } from './sources.ts';

export interface TableRecord extends LocalRecord {
  /** Where it came from, for the answer's reason: "hosts /etc/hosts:12", "lease ...", "record". */
  readonly origin: string;
  /** A lease's end (ms since the epoch): past it the record is gone. Null: never. */
  readonly expiresAtMs: number | null;
}

export interface LocalInputs {
  /** From --record and --records, in order; `origin` says which. */
  readonly records: ReadonlyArray<{ readonly origin: string; readonly record: LocalRecord }>;
  readonly hosts: ReadonlyArray<{ readonly file: string; readonly entries: readonly HostsEntry[] }>;
  readonly leases: ReadonlyArray<{ readonly file: string; readonly leases: readonly Lease[] }>;
}

export interface LocalTable {
  readonly names: ReadonlyMap<string, readonly TableRecord[]>;
  /** Names that own nothing but have names under them (RFC 4592 §2.2.2 empty non-terminals). */
  readonly ancestors: ReadonlySet<string>;
  /** Records left out because they clash with a CNAME (RFC 1034 §3.6.2), with where they came from. */
  readonly conflicts: readonly string[];
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const UNSPECIFIED = (bytes: Uint8Array) => bytes.every((b) => b === 0);

/**
 * The table for `inputs`. `domain` is --local-domain's key (null: none): a one-label name from
 * a hosts or lease file is answered under it too (dnsmasq's expand-hosts, which OpenWrt turns
 * on), and the PTR of its address names that full name.
 */
export function buildTable(inputs: LocalInputs, domain: string | null): LocalTable {
  const names = new Map<string, TableRecord[]>();
  const conflicts: string[] = [];
  const add = (r: TableRecord) => {
    const list = names.get(r.owner);
    if (!list) {
      names.set(r.owner, [r]);
      return;
    }
    const clash = r.type === RecordType.CNAME ? list.length > 0 : list.some((x) => x.type === RecordType.CNAME);
    if (clash) {
      conflicts.push(`${r.origin}: ${keyToText(r.owner)} has a CNAME and other data; this one is left out (RFC 1034 §3.6.2)`);
      return;
    }
    if (list.some((x) => x.type === r.type && sameBytes(x.rdata, r.rdata))) return;
    list.push(r);
  };
  const hasPtr = (key: string) => names.get(key)?.some((r) => r.type === RecordType.PTR) ?? false;
  const withDomain = (key: string) => (domain !== null && labelCount(key) === 1 ? [key, key.slice(0, -1) + domain] : [key]);
  /** A and AAAA for each name, one PTR (to the first name, in full) unless the address has one. */
  const addHost = (address: HostsEntry['address'], keys: readonly string[], origin: string, expiresAtMs: number | null, ttlSeconds: number | null) => {
    const type = address.family === 4 ? RecordType.A : RecordType.AAAA;
    for (const key of keys) for (const owner of withDomain(key)) add({ owner, type, rdata: address.bytes, ttlSeconds, origin, expiresAtMs });
    // 0.0.0.0 and :: in a hosts file block names; they are nobody's address.
    if (UNSPECIFIED(address.bytes)) return;
    const reverse = reverseKey(address);
    const full = withDomain(keys[0]).at(-1)!;
    if (!hasPtr(reverse)) add({ owner: reverse, type: RecordType.PTR, rdata: keyToWire(full), ttlSeconds, origin, expiresAtMs });
  };
  // Records first: a PTR written out by hand wins over one made from a hosts line.
  for (const { origin, record } of inputs.records) add({ ...record, origin, expiresAtMs: null });
  for (const { file, entries } of inputs.hosts) for (const e of entries) addHost(e.address, e.names, `hosts ${file}:${e.line}`, null, null);
  for (const { file, leases } of inputs.leases) for (const l of leases) addHost(l.address, [l.name], `lease ${file}:${l.line}`, l.expiresAtMs, null);
  const ancestors = new Set<string>();
  for (const key of names.keys()) for (const a of ancestorsOf(key)) if (!names.has(a)) ancestors.add(a);
  return { names, ancestors, conflicts };
}

/** The records of `key` still in force at `nowMs` (a lease past its end is gone), or null. */
export function recordsAt(table: LocalTable, key: string, nowMs: number): readonly TableRecord[] | null {
  const list = table.names.get(key);
  if (!list) return null;
  if (!list.some((r) => r.expiresAtMs !== null)) return list;
  const live = list.filter((r) => r.expiresAtMs === null || r.expiresAtMs > nowMs);
  return live.length ? live : null;
}

export { isAtOrUnder };
