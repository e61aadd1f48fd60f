import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/core/errors.ts';
import { createUpstreamStatus, FLAP_HOLD_MS, type StatusEvent } from '../../src/upstreams/health/status.ts';
import { createFakeTime } from '../helpers/fake-clock.ts';

const failing = (reason = 'refused', code: ErrorCode = ErrorCode.upstreamRefused): StatusEvent => ({
  kind: 'failing',
  code,
  message: `upstream: udp://192.0.2.1:53 is failing (${reason})`,
});
const RECOVERED: StatusEvent = { kind: 'recovered', code: null, message: 'upstream: udp://192.0.2.1:53 recovered' };
const tlsFailed = (why: string): StatusEvent => ({ kind: 'connect-failed', code: ErrorCode.upstreamTls, message: `upstream: TLS connection to tls://192.0.2.1 failed (${why})` });
const TLS_WORKS: StatusEvent = { kind: 'connected', code: null, message: 'upstream: TLS connection to tls://192.0.2.1 works again' };

function setup() {
  const time = createFakeTime();
  const events: StatusEvent[] = [];
  const status = createUpstreamStatus((e) => events.push(e));
  const kinds = () => events.map((e) => e.kind).join();
  return { time, events, status, kinds };
}

describe('upstream status: what the log says about one upstream', () => {
  it('#10 - says "failing" once with the reason and its code, however often the breaker opens again', () => {
    const s = setup();
    for (let i = 0; i < 20; i++) {
      s.status.failed(s.time.now(), failing(`refused ${i}`));
      s.time.advance(1_000);
    }
    assert.equal(s.kinds(), 'failing');
    assert.equal(s.events[0].code, ErrorCode.upstreamRefused);
    assert.equal(s.events[0].message, 'upstream: udp://192.0.2.1:53 is failing (refused 0)');
    assert.equal(s.status.down, true);
  });

  it('#10 - says "recovered" once when it answers again, with how long it was failing', () => {
    const s = setup();
    s.status.failed(s.time.now(), failing('timeouts', ErrorCode.upstreamTimeout));
    s.time.advance(42_000);
    s.status.recovered(s.time.now(), RECOVERED);
    s.status.recovered(s.time.now(), RECOVERED);
    assert.equal(s.kinds(), 'failing,recovered');
    assert.equal(s.events[1].code, null);
    assert.equal(s.events[1].message, 'upstream: udp://192.0.2.1:53 recovered (failing for 42 s)');
    assert.equal(s.status.down, false);
  });

  it('says nothing when an upstream that never failed answers', () => {
    const s = setup();
    s.status.recovered(s.time.now(), RECOVERED);
    assert.equal(s.kinds(), '');
  });

  it('#10 - one line per change when the transport and the breaker both report it: whichever comes first', () => {
    const s = setup();
    s.status.failed(s.time.now(), tlsFailed('certificate has expired'));
    s.time.advance(5_000);
    s.status.failed(s.time.now(), failing('TLS error', ErrorCode.upstreamTls));
    s.status.failed(s.time.now(), tlsFailed('certificate has expired'));
    assert.equal(s.kinds(), 'connect-failed');
    // A new reason from the transport is news.
    s.status.failed(s.time.now(), tlsFailed('unable to verify the first certificate'));
    assert.equal(s.kinds(), 'connect-failed,connect-failed');
    s.time.advance(5_000);
    s.status.recovered(s.time.now(), TLS_WORKS);
    s.status.recovered(s.time.now(), RECOVERED);
    assert.equal(s.kinds(), 'connect-failed,connect-failed,connected');
    assert.match(s.events[2].message, /works again \(failing for 10 s\)$/);
  });

  it('#10 - holds back a flapping upstream: nothing for flaps within the hold after "recovered"', () => {
    const s = setup();
    s.status.failed(s.time.now(), failing());
    s.time.advance(1_000);
    s.status.recovered(s.time.now(), RECOVERED);
    // Five flaps within the hold: down for a second, up for a few.
    for (let i = 0; i < 5; i++) {
      s.time.advance(5_000);
      s.status.failed(s.time.now(), failing());
      s.time.advance(1_000);
      s.status.recovered(s.time.now(), RECOVERED);
    }
    assert.equal(s.kinds(), 'failing,recovered', 'a flap within the hold is not logged');
    assert.equal(s.status.down, false);
  });

  it('#10 - logs a held-back "failing" once the hold is over and it still fails, counting the flaps', () => {
    const s = setup();
    s.status.failed(s.time.now(), failing());
    s.status.recovered(s.time.now(), RECOVERED);
    s.time.advance(10_000);
    s.status.failed(s.time.now(), failing());
    s.status.recovered(s.time.now(), RECOVERED);
    s.time.advance(10_000);
    s.status.failed(s.time.now(), failing());
    // Still down: failed probes reopen the breaker; the first past the hold is logged.
    s.time.advance(FLAP_HOLD_MS - 25_000);
    s.status.failed(s.time.now(), failing());
    assert.equal(s.kinds(), 'failing,recovered');
    s.time.advance(10_000);
    s.status.failed(s.time.now(), failing('timeouts', ErrorCode.upstreamTimeout));
    assert.equal(s.kinds(), 'failing,recovered,failing');
    assert.equal(s.events[2].code, ErrorCode.upstreamTimeout, 'the reason is the latest one');
    assert.match(s.events[2].message, /\(timeouts\); it failed and recovered 1 more times since the last line$/);
    s.status.recovered(s.time.now(), RECOVERED);
    assert.equal(s.kinds(), 'failing,recovered,failing,recovered');
  });
});
