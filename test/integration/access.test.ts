// Access control and abuse limits against a running Holdfast. Every 127.x.y.z address is on
// Linux's loopback, so binding the client's socket to 127.0.0.2, 127.0.0.3... plays several
// clients. Public sources cannot be made on loopback; the default ranges are unit-tested
// (test/gate/), and clients on the interfaces' own public prefixes are tested in
// network namespaces (local-subnets.test.ts).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { dig, tcpExchange, lengthPrefixed, udpExchange } from '../helpers/dns-client.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startHoldfast, type HoldfastProcess } from '../helpers/holdfast-process.ts';
import { decode, query } from '../helpers/packets.ts';

/** How long a test waits before deciding no reply is coming. */
const SILENCE_MS = 700;

/** `n` queries one after another from `from`; the rcode of each reply, or null for none. */
async function ask(port: number, from: string, n: number, name: string, timeoutMs = 2000): Promise<Array<string | null>> {
  const out: Array<string | null> = [];
  for (let i = 0; i < n; i++) {
    const r = await udpExchange(port, query(`${name}${i}.acl.test`, 'A', { id: 0x100 + i }), timeoutMs, '127.0.0.1', from);
    out.push(r ? decode(r).rcode : null);
  }
  return out;
}

const count = (xs: Array<string | null>, v: string | null) => xs.filter((x) => x === v).length;

describe('access control (--allow, --deny, --refuse-action)', () => {
  let fake: FakeUpstream;
  let refusing: HoldfastProcess;
  let dropping: HoldfastProcess;
  let allowOnly: HoldfastProcess;
  before(async () => {
    fake = await startFakeUpstream();
    [refusing, dropping, allowOnly] = await Promise.all([
      startHoldfast(['--upstream', fake.url.udp, '--deny', '127.0.0.3/32']),
      startHoldfast(['--upstream', fake.url.udp, '--deny', '127.0.0.3', '--refuse-action', 'drop']),
      startHoldfast(['--upstream', fake.url.udp, '--allow', '127.0.0.2/31']),
    ]);
  });
  after(async () => {
    await Promise.all([refusing?.stop(), dropping?.stop(), allowOnly?.stop()]);
    await fake?.close();
  });

  it('answers 127.0.0.2 and refuses 127.0.0.3, which --deny names', async () => {
    const ok = await dig(refusing.port, ['allowed.acl.test', 'A'], '127.0.0.1', '127.0.0.2');
    assert.match(ok.stdout, /status: NOERROR/);
    assert.match(ok.stdout, /allowed\.acl\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.1/);
    const no = await dig(refusing.port, ['denied.acl.test', 'A'], '127.0.0.1', '127.0.0.3');
    assert.match(no.stdout, /status: REFUSED/);
    assert.match(no.stdout, /QUESTION SECTION:\n;denied\.acl\.test\.\s+IN\s+A/);
    assert.ok(!fake.received.some((r) => r.name === 'denied.acl.test'), 'a refused query never reaches the upstream');
  });

  it('refuses a denied client over TCP as well', async () => {
    const r = await dig(refusing.port, ['+tcp', 'denied-tcp.acl.test', 'A'], '127.0.0.1', '127.0.0.3');
    assert.match(r.stdout, /status: REFUSED/);
  });

  it('sends nothing to a denied client with --refuse-action drop, and still answers others', async () => {
    assert.deepEqual(await ask(dropping.port, '127.0.0.3', 1, 'dropped', SILENCE_MS), [null]);
    assert.deepEqual(await ask(dropping.port, '127.0.0.2', 1, 'kept'), ['NOERROR']);
  });

  it('closes a denied client TCP connection at once with --refuse-action drop', async () => {
    const r = await tcpExchange(dropping.port, [lengthPrefixed(query('tcp-dropped.acl.test'))], 1, { bindAddress: '127.0.0.3' });
    assert.equal(r.replies.length, 0);
    assert.equal(r.closedByServer, true);
  });

  it('answers only the --allow prefix once one is given, not the rest of loopback', async () => {
    assert.deepEqual(await ask(allowOnly.port, '127.0.0.2', 1, 'in'), ['NOERROR']);
    assert.deepEqual(await ask(allowOnly.port, '127.0.0.3', 1, 'in'), ['NOERROR']);
    assert.deepEqual(await ask(allowOnly.port, '127.0.0.4', 1, 'out'), ['REFUSED']);
    assert.deepEqual(await ask(allowOnly.port, '127.0.0.1', 1, 'out'), ['REFUSED']);
  });
});

describe('rate limits (--rate-limit, --rate-limit-action, --rate-limit-exempt)', () => {
  let fake: FakeUpstream;
  let refusing: HoldfastProcess;
  let slipping: HoldfastProcess;
  let exempting: HoldfastProcess;
  before(async () => {
    fake = await startFakeUpstream();
    [refusing, slipping, exempting] = await Promise.all([
      startHoldfast(['--upstream', fake.url.udp, '--rate-limit', '1', '--rate-limit-burst', '5', '--rate-limit-exempt', 'none', '--rate-limit-action', 'refuse']),
      // The default action: TC=1 over UDP.
      startHoldfast(['--upstream', fake.url.udp, '--rate-limit', '1', '--rate-limit-burst', '1', '--rate-limit-exempt', 'none']),
      // The default exempt list: loopback.
      startHoldfast(['--upstream', fake.url.udp, '--rate-limit', '1', '--rate-limit-burst', '2']),
    ]);
  });
  after(async () => {
    await Promise.all([refusing?.stop(), slipping?.stop(), exempting?.stop()]);
    await fake?.close();
  });

  it('refuses 127.0.0.5 once over its limit while 127.0.0.6 stays unaffected', async () => {
    const started = Date.now();
    const five = await ask(refusing.port, '127.0.0.5', 20, 'five');
    // One query a second refills; allow for however long the twenty took on a busy machine.
    const refills = Math.ceil((Date.now() - started) / 1000);
    assert.ok(count(five, 'NOERROR') >= 5, `the burst is answered: ${five}`);
    assert.ok(count(five, 'NOERROR') <= 5 + refills, `then the limit applies: ${five}`);
    assert.equal(count(five, 'NOERROR') + count(five, 'REFUSED'), 20, `every query got an answer or REFUSED: ${five}`);
    assert.deepEqual(await ask(refusing.port, '127.0.0.6', 5, 'six'), Array(5).fill('NOERROR'));
  });

  it('sends a limited client TC=1 over UDP, and dig gets its answer by retrying over TCP', async () => {
    // The burst is one query and one comes back each second: the first dig uses it, and the
    // next is limited unless the machine stalled for a second in between (then try again).
    const first = await dig(slipping.port, ['slip-a.acl.test', 'A'], '127.0.0.1', '127.0.0.7');
    assert.match(first.stdout, /status: NOERROR/);
    assert.doesNotMatch(first.stdout, /Truncated/);
    let limited = '';
    for (let i = 0; i < 5 && !limited; i++) {
      const r = await dig(slipping.port, [`slip-${i}.acl.test`, 'A'], '127.0.0.1', '127.0.0.7');
      assert.match(r.stdout, /status: NOERROR/);
      assert.match(r.stdout, new RegExp(`slip-${i}\\.acl\\.test\\.\\s+\\d+\\s+IN\\s+A\\s+192\\.0\\.2\\.1`));
      if (/Truncated, retrying in TCP mode/.test(r.stdout)) limited = r.stdout;
    }
    assert.ok(limited, 'a dig right after the burst was sent to TCP');
    assert.match(limited, /status: NOERROR/);
  });

  it('never answers TCP with TC=1: a client over its TCP limit is refused', async () => {
    const r = await tcpExchange(
      slipping.port,
      [lengthPrefixed(query('tcp-a.acl.test', 'A', { id: 1 })), lengthPrefixed(query('tcp-b.acl.test', 'A', { id: 2 }))],
      2,
      { bindAddress: '127.0.0.8' },
    );
    const replies = r.replies.map((b) => decode(b));
    assert.equal(replies.length, 2);
    assert.deepEqual(replies.map((d) => d.rcode).sort(), ['NOERROR', 'REFUSED']);
    assert.ok(replies.every((d) => !d.flag_tc));
  });

  it('does not limit loopback clients by default', async () => {
    const answers = await ask(exempting.port, '127.0.0.9', 20, 'exempt');
    assert.deepEqual(answers, Array(20).fill('NOERROR'));
  });
});

describe('TCP connections per client (--tcp-max-connections-per-client)', () => {
  let fake: FakeUpstream;
  let hf: HoldfastProcess;
  const held: net.Socket[] = [];
  before(async () => {
    fake = await startFakeUpstream();
    hf = await startHoldfast(['--upstream', fake.url.udp, '--tcp-max-connections-per-client', '2', '--rate-limit-exempt', 'none']);
  });
  after(async () => {
    for (const s of held) s.destroy();
    await hf?.stop();
    await fake?.close();
  });

  /** A TCP connection from `from` that has been answered once, so the server has accepted it. */
  async function answeredConnection(from: string): Promise<net.Socket> {
    const s = net.connect({ port: hf.port, host: '127.0.0.1', localAddress: from });
    held.push(s);
    s.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      s.once('data', () => resolve());
      s.once('close', () => reject(new Error('closed before answering')));
      s.write(lengthPrefixed(query('held.acl.test')));
    });
    return s;
  }

  it('closes a third connection from 127.0.0.10 at once, while 127.0.0.11 still connects', async () => {
    await answeredConnection('127.0.0.10');
    await answeredConnection('127.0.0.10');
    const third = await tcpExchange(hf.port, [lengthPrefixed(query('third.acl.test'))], 1, { bindAddress: '127.0.0.10' });
    assert.equal(third.replies.length, 0);
    assert.equal(third.closedByServer, true);
    const other = await tcpExchange(hf.port, [lengthPrefixed(query('other.acl.test'))], 1, { bindAddress: '127.0.0.11' });
    assert.equal(other.replies.length, 1);
  });

  it('frees a slot when one of the connections closes', async () => {
    held.shift()!.destroy();
    // The server learns of the close asynchronously: a few tries, a tenth of a second apart.
    let replies = 0;
    for (let i = 0; i < 20 && replies === 0; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      const r = await tcpExchange(hf.port, [lengthPrefixed(query(`after${i}.acl.test`))], 1, { bindAddress: '127.0.0.10' });
      replies = r.replies.length;
    }
    assert.equal(replies, 1);
  });
});
