// Runs a campaign script (build/campaigns/*.ts) under Bun, as `npm run fuzz` etc. do, and reads
// its report: the checks it printed and its last line.

import { spawn } from 'node:child_process';

export interface CampaignRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** check name -> passed, from the report's `check pass|FAIL  NAME:` lines. */
  readonly checks: Map<string, boolean>;
  readonly result: string | null;
}

export function runCampaign(script: string, args: string[], timeoutMs: number): Promise<CampaignRun> {
  return new Promise((resolve) => {
    const child = spawn('node_modules/.bin/bun', [`build/campaigns/${script}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    // The script bounds itself; this is the backstop, by PID (SIGTERM: it kills its own children).
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const checks = new Map<string, boolean>();
      for (const m of stdout.matchAll(/^ {2}check (pass|FAIL) {2}([^:]+):/gm)) checks.set(m[2], m[1] === 'pass');
      resolve({ code, stdout, stderr, checks, result: /^result: (\w+)$/m.exec(stdout)?.[1] ?? null });
    });
  });
}
