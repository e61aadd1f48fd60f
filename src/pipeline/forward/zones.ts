// Forward zones (--forward-zone DOMAIN=URL[,URL...]): which names go to which upstreams. Parsed
// once when the pipeline is built; a query's zone is its longest match, found by walking the
// name's suffixes from the longest down, one map lookup each.

import { ErrorCode, HoldfastError } from '../../core/errors.ts';
import { parseUpstream, type UpstreamSpec } from '../../upstreams/spec.ts';
import { ancestorsOf, keyToText, nameKeyOf } from '../local/names.ts';

export interface ForwardZone {
  /** "corp.example." (presentation, with the root dot), for reasons and logs. */
  readonly name: string;
  /** The zone as a name key (local/names.ts). */
  readonly key: string;
  readonly upstreams: readonly UpstreamSpec[];
}

/** One --forward-zone value; a bad one is a configuration error that names it. */
export function parseForwardZone(text: string): ForwardZone {
  const fail = (why: string) => new HoldfastError(ErrorCode.config, `--forward-zone: "${text}" ${why}`);
  const eq = text.indexOf('=');
  if (eq <= 0) throw fail('is not DOMAIN=URL[,URL...] (such as corp.example=udp://10.8.0.1)');
  const key = nameKeyOf(text.slice(0, eq).trim());
  if (key === null) throw fail(`names no domain ("${text.slice(0, eq).trim()}")`);
  const urls = text
    .slice(eq + 1)
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (urls.length === 0) throw fail('gives no upstream after =');
  const upstreams = urls.map((u) => {
    try {
      return parseUpstream(u);
    } catch (e) {
      throw fail(e instanceof Error ? e.message : String(e));
    }
  });
  return { name: keyToText(key), key, upstreams };
}

/** Every value parsed; two values for one zone are refused (which should win would be a guess). */
export function parseForwardZones(texts: readonly string[]): ForwardZone[] {
  const zones = texts.map(parseForwardZone);
  const seen = new Set<string>();
  for (const z of zones) {
    if (seen.has(z.key)) throw new HoldfastError(ErrorCode.config, `--forward-zone: ${z.name} is given twice: give it once, with all its upstreams after =, separated by commas`);
    seen.add(z.key);
  }
  return zones;
}

/** Finds the zone a name key falls in: the longest match, or -1 for none. */
export function createZoneMatcher(zones: readonly ForwardZone[]): (key: string) => number {
  const index = new Map(zones.map((z, i) => [z.key, i] as const));
  if (index.size === 0) return () => -1;
  return (key) => {
    const exact = index.get(key);
    if (exact !== undefined) return exact;
    // ancestorsOf gives the longest first, so the first hit is the longest match.
    for (const a of ancestorsOf(key)) {
      const i = index.get(a);
      if (i !== undefined) return i;
    }
    return -1;
  };
}
