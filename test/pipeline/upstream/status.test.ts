import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../src/core/errors.ts';
import { createUpstreamStatus, FLAP_HOLD_MS, type StatusEvent } from '../../../src/pipeline/upstream/health/status.ts';
import { createFakeTime } from '../../helpers/fake-clock.ts';

const LABEL = 'udp://192.0.2.1:53';

function setup() {
  const time = createFakeTime();
  const events: StatusEvent[] = [];
  const status = createUpstreamStatus(LABEL, (e) => events.push(e));
  const kinds = () => events.map((e) => e.kind).join();
  return { time, events, status, kinds };
}

describe('upstream status: what the log says about one upstream', () => {
  it('#10 - says "failing" once with the reason and its code, however often the breaker opens again', () => {
    const s = setup();
    for (let i = 0; i < 20; i++) {
      s.status.opened(s.time.now(), ErrorCode.upstreamRefused, 'refused: nothing listens there');
      s.time.advance(1_000);
    }
    assert.equal(s.kinds(), 'failing');
    assert.equal(s.events[0].code, ErrorCode.upstreamRefused);
    assert.match(s.events[0].message, /^upstream: udp:\/\/192\.0\.2\.1:53 is failing \(refused: nothing listens there\)/);
    assert.equal(s.status.failing, true);
  });

  it('#10 - says "recovered" once when the breaker closes, with how long it was failing', () => {
    const s = setup();
    s.status.opened(s.time.now(), ErrorCode.upstreamTimeout, 'timeouts');
    s.time.advance(42_000);
    s.status.closed(s.time.now());
    s.status.closed(s.time.now());
    assert.equal(s.kinds(), 'failing,recovered');
    assert.equal(s.events[1].code, null);
    assert.match(s.events[1].message, /udp:\/\/192\.0\.2\.1:53 recovered: it answers again after 42 s/);
    assert.equal(s.status.failing, false);
  });

  it('says nothing when an upstream that was never called failing answers', () => {
    const s = setup();
    s.status.closed(s.time.now());
    assert.equal(s.kinds(), '');
  });

  it('#10 - holds back a flapping upstream: nothing for flaps within the hold after "recovered"', () => {
    const s = setup();
    s.status.opened(s.time.now(), ErrorCode.upstreamRefused, 'refused');
    s.time.advance(1_000);
    s.status.closed(s.time.now());
    // Five flaps within the hold: down for a second, up for a few.
    for (let i = 0; i < 5; i++) {
      s.time.advance(5_000);
      s.status.opened(s.time.now(), ErrorCode.upstreamRefused, 'refused');
      s.time.advance(1_000);
      s.status.closed(s.time.now());
    }
    assert.equal(s.kinds(), 'failing,recovered', 'a flap within the hold is not logged');
    assert.equal(s.status.failing, false);
  });

  it('#10 - logs a held-back "failing" once the hold is over and it still fails, counting the flaps', () => {
    const s = setup();
    s.status.opened(s.time.now(), ErrorCode.upstreamRefused, 'refused');
    s.status.closed(s.time.now());
    s.time.advance(10_000);
    s.status.opened(s.time.now(), ErrorCode.upstreamRefused, 'refused');
    s.status.closed(s.time.now());
    s.time.advance(10_000);
    s.status.opened(s.time.now(), ErrorCode.upstreamRefused, 'refused');
    // Still down: failed probes reopen the breaker; the first past the hold is logged.
    s.time.advance(FLAP_HOLD_MS - 25_000);
    s.status.opened(s.time.now(), ErrorCode.upstreamRefused, 'refused');
    assert.equal(s.kinds(), 'failing,recovered');
    s.time.advance(10_000);
    s.status.opened(s.time.now(), ErrorCode.upstreamTimeout, 'timeouts');
    assert.equal(s.kinds(), 'failing,recovered,failing');
    assert.equal(s.events[2].code, ErrorCode.upstreamTimeout, 'the reason is the latest one');
    assert.match(s.events[2].message, /failed and recovered 1 more times since the last line/);
    s.status.closed(s.time.now());
    assert.equal(s.kinds(), 'failing,recovered,failing,recovered');
  });
});
