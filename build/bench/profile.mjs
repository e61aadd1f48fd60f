// Reads a V8 .cpuprofile (from `node --cpu-prof`) and lists the functions with the most self
// time, so "where does a cache hit spend its time" has a short answer.
import { readFileSync } from 'node:fs';

/**
 * Top `limit` functions by self time: { name, where, selfMs, selfPct }. Only the samples of the
 * last `lastMs` milliseconds before the profile ended count (the process exits right after the
 * phase of interest, so this leaves out start-up and priming).
 */
export function topFunctions(file, { lastMs = Infinity, limit = 20 } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fromUs = profile.endTime - lastMs * 1000;
  // Self time per node from the samples and their time deltas (µs).
  const selfUs = new Map();
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    if (t >= fromUs) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const totals = new Map();
  let allUs = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    if (functionName === '(idle)') continue;
    allUs += us;
    const file = url ? url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist|src)\//, '$1/') : '';
    const key = `${functionName || '(anonymous)'}\t${file ? `${file}:${lineNumber + 1}` : ''}`;
    totals.set(key, (totals.get(key) ?? 0) + us);
  }
  return {
    busyMs: allUs / 1000,
    top: [...totals]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([key, us]) => {
        const [name, where] = key.split('\t');
        return { name, where, selfMs: us / 1000, selfPct: (100 * us) / allUs };
      }),
  };
}

export function renderTop({ busyMs, top }) {
  const lines = [`busy (not idle) ${busyMs.toFixed(0)} ms; self time by function:`];
  for (const f of top) lines.push(`  ${f.selfPct.toFixed(1).padStart(5)}%  ${f.name}  ${f.where}`);
  return lines.join('\n');
}
