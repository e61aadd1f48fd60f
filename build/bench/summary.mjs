// Issue #11's table, filled in from one run: the figures a router owner feels (CPU per hit and
// per miss, tail latency of misses, RSS, pauses, size), Holdfast beside dnsmasq and beside Bun's
// own floor (build/bench/udp-floor.ts: the least any server on Bun.udpSocket can spend), with
// the issue's goal for each.

const mib = (kib) => kib / 1024;
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}x` : '–');

/**
 * results: the comparison's per-server summaries (runStages); footprint: runFootprintStage's
 * figures for Holdfast ({ bun, base? }); sizes: measureSizes(). Returns markdown lines.
 */
export function issueTable({ results, footprint, sizes, S }) {
  const cols = ['bun', 'base', 'dnsmasq', 'floor'].filter((k) => results[k]);
  const label = { bun: 'Holdfast (bun)', base: 'previous', dnsmasq: 'dnsmasq', floor: 'bun floor' };
  const read = (k, phase, field) => results[k]?.[phase]?.[field];
  const mem = (k, field) => mib(results[k]?.memory?.[field]);
  const n = S.memoryPoints.includes(100_000) ? 100_000 : S.memoryPoints.at(-1);
  const rows = [
    ['CPU per cache hit (µs)', (k) => read(k, 'hits', 'cpuUsPerQuery'), '≤ dnsmasq'],
    ['CPU per miss, fresh cache (µs)', (k) => read(k, 'misses', 'cpuUsPerQuery'), '≤ dnsmasq'],
    ['misses into a full cache (qps)', (k) => read(k, 'fullMisses', 'qps'), '–'],
    [`miss p99 at ${S.missLatencyQps}/s (ms)`, (k) => read(k, 'missLatency', 'p99Ms'), '< 3'],
    [`miss p90 at ${S.missLatencyQps}/s (ms)`, (k) => read(k, 'missLatency', 'p90Ms'), '–'],
    ['RSS at start (MiB)', (k) => mem(k, 'startKiB'), '< 36'],
    ['  of which file-backed (executable, libraries)', (k) => mib(results[k]?.memory?.startParts?.file), '–'],
    ['  of which anonymous (heap, buffers)', (k) => mib(results[k]?.memory?.startParts?.anon), '–'],
    [`RSS after ${n / 1000}k names, settled (MiB)`, (k) => mem(k, `rss${n}Settled`), '≤ 60'],
    ['  of which file-backed', (k) => mib(results[k]?.memory?.[`rss${n}SettledParts`]?.file), '–'],
    ['  of which anonymous', (k) => mib(results[k]?.memory?.[`rss${n}SettledParts`]?.anon), '–'],
  ];
  const lines = [
    `| figure | ${cols.map((k) => label[k]).join(' | ')} | Holdfast / dnsmasq | Holdfast / floor | goal |`,
    `|---|${cols.map(() => '---|').join('')}---|---|---|`,
  ];
  for (const [name, get, goal] of rows) {
    const v = Object.fromEntries(cols.map((k) => [k, get(k)]));
    const fmt = (x) => (name.includes('qps') ? (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–') : f1(x));
    lines.push(`| ${name} | ${cols.map((k) => fmt(v[k])).join(' | ')} | ${ratio(v.bun, v.dnsmasq)} | ${ratio(v.bun, v.floor)} | ${goal} |`);
  }
  // Rows only Holdfast has (and the previous executable, when the run was given one).
  const own = (name, bunText, baseText, goal) =>
    lines.push(`| ${name} | ${cols.map((k) => (k === 'bun' ? bunText : k === 'base' ? (baseText ?? '–') : '–')).join(' | ')} | – | – | ${goal} |`);
  const fp = footprint?.bun;
  if (fp) {
    const both = (get) => [get(fp) ?? '–', footprint.base ? (get(footprint.base) ?? '–') : null];
    own('default --cache-memory holds (names)', ...both((r) => r.defaultBoundHolds), '≥ 50k');
    own('snapshot write: longest probe wait (ms)', ...both((r) => r.writeMaxLatencyMs), '≤ 10 + the 5 ms probe interval');
    own(`snapshot load of ${fp.restored ?? '?'} names, done after start, server on one core (ms)`, ...both((r) => r.loadDoneMs), '< 300');
    own('  longest probe wait meanwhile (ms)', ...both((r) => r.loadMaxLatencyMs), '≤ 10 + the 5 ms probe interval');
    own('first answer after that start (ms)', ...both((r) => r.firstAnswerMs), '< 150');
    own('  the same load, server free to use both cores (ms)', ...both((r) => r.loadDoneUnpinnedMs), '< 300');
    own('  longest probe wait meanwhile (ms)', ...both((r) => r.loadMaxLatencyUnpinnedMs), '≤ 10 + the 5 ms probe interval');
  }
  if (sizes) {
    const kib = (b) => `${Math.round(b / 1024)} KiB`;
    own('npm bundle, minified', `${kib(sizes.bundleBytes)} (its map, ${kib(sizes.bundleMapBytes)}, beside it)`, null, '≤ 400 KB');
    const over = (sizes.executableBytes - sizes.helloBytes) / 2 ** 20;
    own("executable over Bun's hello-world (MiB)", `${over.toFixed(2)} (${(sizes.executableBytes / 2 ** 20).toFixed(1)} vs ${(sizes.helloBytes / 2 ** 20).toFixed(1)})`, null, '≤ 2 MB');
  }
  return lines;
}
