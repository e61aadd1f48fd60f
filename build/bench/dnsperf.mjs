// dnsperf as the load generator: query files, one bounded run, its statistics read back, and
// per-query latencies from its verbose output (dnsperf prints no percentiles itself).
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { runProcess } from './procs.mjs';

/** Writes `count` distinct A queries, `${prefix}${i}.${zone}`, one per line. */
export async function writeNames(file, prefix, count, zone) {
  const out = createWriteStream(file);
  const chunk = 10_000;
  for (let i = 0; i < count; i += chunk) {
    let text = '';
    for (let j = i; j < Math.min(count, i + chunk); j++) text += `${prefix}${j}.${zone} A\n`;
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return file;
}

const number = (re, text) => {
  const m = re.exec(text);
  return m ? Number(m[1]) : NaN;
};

/** dnsperf's closing statistics. */
export function parseStats(text) {
  const rcodes = {};
  const codes = /^\s*Response codes:\s+(.*)$/m.exec(text)?.[1] ?? '';
  for (const m of codes.matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]] = Number(m[2]);
  return {
    sent: number(/^\s*Queries sent:\s+(\d+)/m, text),
    completed: number(/^\s*Queries completed:\s+(\d+)/m, text),
    lost: number(/^\s*Queries lost:\s+(\d+)/m, text),
    runSeconds: number(/^\s*Run time \(s\):\s+([\d.]+)/m, text),
    qps: number(/^\s*Queries per second:\s+([\d.]+)/m, text),
    avgLatencyMs: number(/^\s*Average Latency \(s\):\s+([\d.]+)/m, text) * 1000,
    rcodes,
  };
}

/** Latencies in ms of every answered query, from `-v` lines like "> NOERROR a.example A 0.000233". */
export function parseLatencies(text) {
  const out = [];
  for (const m of text.matchAll(/^> [A-Z]+ \S+ \S+ ([\d.]+)$/gm)) out.push(Number(m[1]) * 1000);
  return out;
}

/**
 * The p-th percentile over every query sent, a lost query counting as slower than any answer:
 * a server that drops 2% of queries has no p99, and says so (Infinity) rather than hiding it.
 */
export function percentile(latenciesMs, sent, p) {
  const sorted = Float64Array.from(latenciesMs).sort();
  const rank = Math.ceil((p / 100) * Math.max(sent, sorted.length)) - 1;
  return rank < sorted.length ? sorted[Math.max(0, rank)] : Infinity;
}

/**
 * One bounded dnsperf run against 127.0.0.1:port.
 *   once: go through the file once (-n 1) rather than loop until `seconds`.
 *   qps: a fixed rate (-Q); otherwise flat out with `outstanding` queries in flight.
 */
export async function dnsperf({ port, file, cpu, seconds, once = false, qps, verbose = false, load }) {
  const args = ['dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(seconds)];
  args.push('-c', String(load.clients), '-q', String(load.outstanding), '-t', String(load.timeoutSeconds));
  if (once) args.push('-n', '1');
  if (qps) args.push('-Q', String(qps));
  if (verbose) args.push('-v');
  // dnsperf stops sending at -l and waits at most -t for stragglers; the kill is a backstop.
  const r = await runProcess(args, { cpu, timeoutMs: (seconds + load.timeoutSeconds + 15) * 1000 });
  if (r.error) throw new Error(`bench: cannot run dnsperf (${r.error.message}); install the dnsperf package`);
  const stats = parseStats(r.stdout);
  if (r.code !== 0 || Number.isNaN(stats.completed)) {
    throw new Error(`bench: dnsperf failed (exit ${r.code ?? r.signal}): ${(r.stderr || r.stdout).trim().slice(-600)}`);
  }
  return { ...stats, command: args.join(' '), latenciesMs: verbose ? parseLatencies(r.stdout) : undefined };
}
