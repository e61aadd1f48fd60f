// The Prometheus text exposition format, version 0.0.4: one # HELP and one # TYPE line per
// family, then its samples, every sample of a family together. Histograms are written as
// cumulative _bucket series ending in le="+Inf", then _sum and _count.
// https://prometheus.io/docs/instrumenting/exposition_formats/

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly labels: Labels;
  readonly value: number;
}

export interface HistogramSample {
  readonly labels: Labels;
  /** Upper bounds, increasing, in the metric's unit. */
  readonly bounds: readonly number[];
  /** Per bucket, not cumulative: bounds.length + 1 of them, the last above every bound (+Inf). */
  readonly counts: readonly number[];
  readonly sum: number;
}

export type MetricFamily =
  | { readonly name: string; readonly help: string; readonly type: 'counter' | 'gauge'; readonly samples: readonly Sample[] }
  | { readonly name: string; readonly help: string; readonly type: 'histogram'; readonly samples: readonly HistogramSample[] };

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** HELP text: backslash and line feed are escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A label value: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A sample value as Go's ParseFloat reads it, with Prometheus's spelling of the infinities. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Labels, extra?: readonly [string, string]): string {
  const parts: string[] = [];
  for (const name in labels) {
    // Names are ours, not the user's: a bad one is a defect, caught by the tests.
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`metrics: bad label name "${name}"`);
    parts.push(`${name}="${escapeLabelValue(labels[name])}"`);
  }
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function histogramLines(name: string, s: HistogramSample, out: string[]): void {
  if ('le' in s.labels) throw new Error(`metrics: ${name} may not use the label "le"`);
  if (s.counts.length !== s.bounds.length + 1) throw new Error(`metrics: ${name} needs one count per bound and one for +Inf`);
  let cumulative = 0;
  for (let i = 0; i < s.bounds.length; i++) {
    cumulative += s.counts[i];
    out.push(`${name}_bucket${labelText(s.labels, ['le', formatValue(s.bounds[i])])} ${formatValue(cumulative)}`);
  }
  cumulative += s.counts[s.bounds.length];
  out.push(`${name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${formatValue(cumulative)}`);
  out.push(`${name}_sum${labelText(s.labels)} ${formatValue(s.sum)}`);
  // _count equals the +Inf bucket by definition.
  out.push(`${name}_count${labelText(s.labels)} ${formatValue(cumulative)}`);
}

/** The families as one exposition, ending in a line feed. Throws on a name the format forbids. */
export function formatExposition(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new Error(`metrics: bad metric name "${f.name}"`);
    if (seen.has(f.name)) throw new Error(`metrics: family ${f.name} given twice`);
    seen.add(f.name);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type === 'histogram') for (const s of f.samples) histogramLines(f.name, s, out);
    else for (const s of f.samples) out.push(`${f.name}${labelText(s.labels)} ${formatValue(s.value)}`);
  }
  return out.join('\n') + '\n';
}
