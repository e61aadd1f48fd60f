// `holdfast explain NAME [TYPE]` and /api/explain: which stage would answer a name, and why.
// Every stage that can answer on its own (local data, block lists, forward zones, rewrites)
// gives an `explain(name, qtype)` that says what it would do without doing it; the stages are
// asked in the chain's order, and the first that answers ends the walk, as it would a query.

/** What one stage would do with a name. */
export interface Explanation {
  /** The stage's name: "block", "local", "forward-zone"... */
  readonly stage: string;
  /** True when this stage answers (the query goes no further); false for a note only. */
  readonly answers: boolean;
  readonly text: string;
}

export type Explainer = (name: string, qtype: number) => Explanation | null;

/** The explanations of `explainers` in order, up to the first that answers; then the cache and upstreams if none does. */
export function explainName(explainers: readonly Explainer[], name: string, qtype: number): Explanation[] {
  const out: Explanation[] = [];
  for (const explain of explainers) {
    const e = explain(name, qtype);
    if (e === null) continue;
    out.push(e);
    if (e.answers) return out;
  }
  out.push({ stage: 'upstream', answers: true, text: 'not answered locally: from the cache, or asked of the upstreams' });
  return out;
}
