// Debian's Chromium, headless, as a test sees a page: the DOM after its scripts ran (and its
// timers, on virtual time), the console messages it logged, and optionally a screenshot.
// Flags as this machine needs them: no sandbox (we run as root), and no background
// networking, which would try to reach Google and be refused.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ?? null;

export interface PageLoad {
  readonly dom: string;
  /** Console messages (console.*, uncaught errors, CSP violations), as Chromium logs them. */
  readonly console: string[];
  readonly code: number | null;
}

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(CHROMIUM!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Loads `url`, lets its scripts run for `virtualMs` of virtual time, and returns the DOM and
 * console; with `screenshot`, a second load writes a PNG of the same moment there.
 */
export async function loadPage(url: string, opts: { virtualMs?: number; screenshot?: string; timeoutMs?: number } = {}): Promise<PageLoad> {
  const profile = mkdtempSync(join(tmpdir(), 'holdfast-chromium-'));
  const common = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--hide-scrollbars',
    `--user-data-dir=${profile}`,
    `--virtual-time-budget=${opts.virtualMs ?? 5_000}`,
    '--window-size=1280,1000',
  ];
  try {
    const r = await run([...common, '--enable-logging=stderr', '--v=0', '--dump-dom', url], opts.timeoutMs ?? 60_000);
    const messages = r.stderr.split('\n').filter((l) => /:CONSOLE[:(]/.test(l));
    if (opts.screenshot) await run([...common, `--screenshot=${opts.screenshot}`, url], opts.timeoutMs ?? 60_000);
    return { dom: r.stdout, console: messages, code: r.code };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
