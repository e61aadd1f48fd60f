// Issue #10 as a router owner meets it, on the shipped executable (dist/holdfast-linux-x64) and
// on this runtime's entry: --help that fits a serial console and a pipe, a port in use that
// says who holds it, and no upstream that is a forwarder on this machine.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { freePort } from '../helpers/ports.ts';
import { holdfastArgv, runtimeName } from '../helpers/runtime.ts';
import { runHoldfast } from '../helpers/holdfast-process.ts';

const X64 = 'dist/holdfast-linux-x64';
const ARGVS: Array<[string, string[]]> = [
  ['the linux-x64 executable', [X64]],
  [`the ${runtimeName} entry`, holdfastArgv()],
];

/** Runs `argv ARGS` to completion, stdout a pipe (not a TTY). */
function run(argv: readonly string[], args: string[], env: Record<string, string> = {}) {
  return runHoldfast(args, 20_000, env, argv);
}

/** Holds `port` on `address` with a socket of ours; resolves to its release, or null if already taken. */
async function hold(transport: 'udp' | 'tcp', address: string, port: number): Promise<(() => Promise<void>) | null> {
  if (transport === 'udp') {
    const s = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((r) => {
      s.once('error', () => r(false));
      s.bind(port, address, () => r(true));
    });
    if (!ok) return null;
    return () => new Promise<void>((r) => s.close(() => r()));
  }
  const s = net.createServer();
  const ok = await new Promise<boolean>((r) => {
    s.once('error', () => r(false));
    s.listen(port, address, () => r(true));
  });
  if (!ok) return null;
  return () => new Promise<void>((r) => s.close(() => r()));
}

const oneLine = (text: string) => text.split('\n').filter((l) => l.trim() !== '');
// What a user would get from `id -un`; the test runs as itself, so its sockets are its own.
const uid = process.getuid?.() ?? -1;

describe('#10 router-ready command line', () => {
  before(() => assert.ok(existsSync(X64), `${X64} is missing: build it with \`node build/build.mjs linux-x64\``));

  for (const [what, argv] of ARGVS) {
    it(`#10 - ${what}: --help through a pipe has no colours and no line over 80 columns`, async () => {
      for (const args of [['--help'], ['serve', '--help'], ['relay', '--help'], ['query', '--help'], ['config', 'check', '--help'], ['snapshot', '--help']]) {
        // Under CI=1 citty would drop its colours by itself; the pipe alone must be enough.
        const r = await run(argv, args, { CI: '', TEST: '', NO_COLOR: '', FORCE_COLOR: '' });
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /\u001b\[/, `${args.join(' ')}: ANSI colours on a pipe`);
        const long = r.stdout.split('\n').filter((l) => l.length > 80);
        assert.deepEqual(long, [], `${args.join(' ')}: lines over 80 columns`);
      }
    });

    it(`#10 - ${what}: config check --help names FILE, and serve --help lists --log-level silent`, async () => {
      const check = await run(argv, ['config', 'check', '--help']);
      assert.equal(check.code, 0, check.stderr);
      assert.match(check.stdout, /USAGE holdfast config check .*<FILE>/);
      assert.match(check.stdout, /^ {2}FILE +The config file/m);
      const serve = await run(argv, ['serve', '--help']);
      assert.match(serve.stdout, /--log-level=<LEVEL>\n +silent, error, warn, info, debug/);
      // The default port is no longer mDNS's.
      assert.match(serve.stdout, /127\.0\.0\.1:5333\s+and\s+\[::1\]:5333/);
    });

    it(`#10 - ${what}: port 5353 in use names an mDNS responder`, async () => {
      // A loopback address of its own, so nothing else on the machine is disturbed; if the
      // port is taken there already, that does just as well.
      const release = await hold('udp', '127.0.0.153', 5353);
      try {
        const r = await run(argv, ['serve', '--listen', '127.0.0.153:5353', '--upstream', 'udp://192.0.2.1']);
        assert.equal(r.code, 2, r.stderr);
        const [line] = oneLine(r.stderr);
        assert.equal(oneLine(r.stderr).length, 1, r.stderr);
        assert.match(line, /127\.0\.0\.153:5353 is already in use; port 5353 is usually an mDNS responder \(avahi-daemon, umdns\)/);
        if (release) assert.match(line, new RegExp(`udp port 5353 is held by a process of user \\S+ \\(uid ${uid}\\)`));
      } finally {
        await release?.();
      }
    });

    it(`#10 - ${what}: port 53 in use names another DNS server`, async () => {
      const release = await hold('udp', '127.0.0.153', 53);
      try {
        const r = await run(argv, ['serve', '--listen', '127.0.0.153:53', '--upstream', 'udp://192.0.2.1']);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /127\.0\.0\.153:53 is already in use; port 53 is usually another DNS server \(dnsmasq, systemd-resolved/);
      } finally {
        await release?.();
      }
    });

    for (const transport of ['udp', 'tcp'] as const) {
      it(`#10 - ${what}: a port in use (${transport}) names the user whose socket holds it`, async () => {
        const port = await freePort();
        const release = await hold(transport, '127.0.0.1', port);
        assert.ok(release, `could not hold ${transport} port ${port}`);
        try {
          const r = await run(argv, ['serve', '--listen', `127.0.0.1:${port}`, '--upstream', 'udp://192.0.2.1']);
          assert.equal(r.code, 2, r.stderr);
          assert.equal(oneLine(r.stderr).length, 1, r.stderr);
          assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port} is already in use \\(${transport} port ${port} is held by a process of user \\S+ \\(uid ${uid}\\)\\)`));
        } finally {
          await release();
        }
      });
    }
  }
});

describe('#10 no upstream from resolv.conf that forwards back to us', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'holdfast-resolv-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [what, argv] of ARGVS) {
    it(`#10 - ${what}: OpenWrt's resolv.conf (127.0.0.1, dnsmasq) is not an upstream`, async () => {
      const etc = join(dir, 'resolv.conf');
      writeFileSync(etc, 'search lan\nnameserver 127.0.0.1\nnameserver ::1\n');
      const r = await run(argv, ['serve', '--listen', '127.0.0.1:0'], { HOLDFAST_RESOLV_CONF: etc });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(oneLine(r.stderr).length, 1, r.stderr);
      assert.match(r.stderr, /no upstream: pass --upstream/);
      assert.match(r.stderr, /left out, .*127\.0\.0\.1 in \S+resolv\.conf, ::1 in /);
    });

    it(`#10 - ${what}: the WAN's resolvers in resolv.conf.auto are used, not dnsmasq on 127.0.0.1`, async () => {
      const auto = join(dir, 'resolv.conf.auto');
      const etc = join(dir, 'resolv.conf');
      writeFileSync(auto, '# Interface wan\nnameserver 192.0.2.77\n');
      writeFileSync(etc, 'search lan\nnameserver 127.0.0.1\n');
      const child = spawn(argv[0], [...argv.slice(1), 'serve', '--listen', '127.0.0.1:0', '--log-format', 'json'], {
        env: { ...process.env, HOLDFAST_RESOLV_CONF: `${auto}:${etc}` },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      try {
        const deadline = Date.now() + 20_000;
        while (!/"msg":"forwarding to /.test(err) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        const forwarding = err.split('\n').find((l) => l.includes('"msg":"forwarding to '));
        assert.ok(forwarding, err);
        assert.deepEqual(JSON.parse(forwarding).upstreams, ['udp://192.0.2.77:53']);
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
      }
    });
  }
});
