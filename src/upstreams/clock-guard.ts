// Whether the local clock can be believed (#12). A router without a battery-backed clock boots
// with the time of its firmware build or of the newest file in /etc; every certificate then
// looks not yet valid, DoT and DoH fail, and NTP cannot resolve its servers to fix the clock.
//
// The clock is implausible while it reads earlier than a time we know has passed: when this
// executable was built, or when the newest cache snapshot on disk was written. Meanwhile a
// certificate whose only fault is its validity period is accepted (the adapters walk its chain
// themselves, ports.ts TlsOptions.clockFloorMs), with one warning; once the clock reads later,
// new connections get the full checks again.

import type { Clock } from '../core/ports.ts';

export interface ClockGuard {
  /** The earliest the true time can be, while the clock reads earlier than that; else null. */
  floorMs(): number | null;
  /** Something on disk shows this time has passed (the snapshot's time): raises the floor. */
  atLeast(ms: number): void;
  /** A certificate was taken despite its validity period: warns once for the process. */
  accepted(label: string, why: string): void;
}

export interface ClockGuardEvent {
  readonly upstream: string;
  readonly message: string;
}

export function createClockGuard(initialFloorMs: number, clock: Clock, onWarning: (e: ClockGuardEvent) => void = () => {}): ClockGuard {
  let floor = initialFloorMs;
  let warned = false;
  return {
    floorMs: () => (clock.now() < floor ? floor : null),
    atLeast(ms) {
      if (Number.isFinite(ms) && ms > floor) floor = ms;
    },
    accepted(label, why) {
      if (warned) return;
      warned = true;
      const at = new Date(floor).toISOString();
      onWarning({
        upstream: label,
        message: `upstream: the clock reads ${new Date(clock.now()).toISOString()}, before ${at} which has passed, so certificates are accepted whatever their validity period (${label}: ${why}) until the clock is set; every other check still applies`,
      });
    },
  };
}

/** A guard for a clock taken as right: full checks always (tests, and whoever wants none). */
export const TRUSTED_CLOCK: ClockGuard = { floorMs: () => null, atLeast() {}, accepted() {} };
