import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

// The house's floors: a file imports its own folder and the floors below it, never above, so
// the request's path reads from the folder names and there are no cycles (STYLE.md).
const FLOORS: Record<string, number> = {
  core: 0,
  config: 1,
  adapters: 1,
  protocols: 2,
  gate: 3,
  upstreams: 3,
  pipeline: 4,
  services: 5,
  server: 6,
  cli: 7,
  main: 8,
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Each file's relative imports (type-only ones too: a type cycle is still a tangle). */
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of sources('src')) {
    const code = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
    const deps = [...code.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => normalize(join(dirname(f), m[1])));
    g.set(f, deps);
  }
  return g;
}

/** Tarjan's strongly connected components with more than one file (or a file importing itself). */
export function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

const floorOf = (file: string) => FLOORS[file.split('/')[1]];

describe('#13 - the import graph', () => {
  it('finds a cycle when there is one (the check can fail)', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    assert.deepEqual(cycles(g), [['a', 'b', 'c']]);
  });

  it('has no import cycles in src/', () => {
    assert.deepEqual(cycles(graph()), []);
  });

  it('imports only downward: a folder never imports one on a higher floor', () => {
    const up: string[] = [];
    for (const [f, deps] of graph()) {
      for (const d of deps) {
        if (floorOf(d) > floorOf(f) || (floorOf(d) === floorOf(f) && d.split('/')[1] !== f.split('/')[1])) up.push(`${f} -> ${d}`);
      }
    }
    assert.deepEqual(up, []);
  });
});
