// Reading one figure from Holdfast's /metrics (the Prometheus text format, version 0.0.4).

/** The value of `name` without labels; NaN when it is not there. */
export function metricValue(text, name) {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const [key, value] = line.trim().split(/\s+/);
    if (key === name) return Number(value);
  }
  return NaN;
}
