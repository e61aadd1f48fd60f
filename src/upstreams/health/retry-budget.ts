// A budget that keeps retries (retransmits and hedged queries) to a share of first attempts,
// so a failing link never turns into a retry storm. Each first attempt deposits `ratio` of a
// token; each retry spends a whole one. A small floor of retries per second is always allowed,
// so a quiet network can still retry its few queries. Deposits expire after `windowMs`, so a
// burst of traffic long ago does not pay for a retry storm now.

export interface RetryBudgetOptions {
  /** Retries allowed per first attempt, e.g. 0.2 for at most 20% extra queries. */
  readonly ratio: number;
  readonly minPerSecond: number;
  readonly windowMs: number;
}

export interface RetryBudget {
  /** Records a first attempt. */
  deposit(nowMs: number): void;
  /** Spends one retry if the budget allows it. */
  tryWithdraw(nowMs: number): boolean;
  readonly spent: number;
  readonly refused: number;
}

export function createRetryBudget(o: RetryBudgetOptions): RetryBudget {
  // Deposits and withdrawals are counted in one-second slots over the window.
  const slots = Math.max(1, Math.ceil(o.windowMs / 1000));
  const deposits = new Float64Array(slots);
  const withdrawals = new Float64Array(slots);
  let slotSecond = -1;
  let spent = 0;
  let refused = 0;

  const advance = (now: number) => {
    const second = Math.floor(now / 1000);
    if (slotSecond < 0 || second - slotSecond >= slots || second < slotSecond) {
      deposits.fill(0);
      withdrawals.fill(0);
    } else {
      for (let s = slotSecond + 1; s <= second; s++) {
        deposits[s % slots] = 0;
        withdrawals[s % slots] = 0;
      }
    }
    slotSecond = second;
    return second % slots;
  };
  const sum = (a: Float64Array) => a.reduce((x, y) => x + y, 0);

  return {
    deposit(now) {
      deposits[advance(now)] += 1;
    },
    tryWithdraw(now) {
      const slot = advance(now);
      // Counted in whole attempts so that 100 × 0.2 is exactly 20, not 19.999….
      const balance = sum(deposits) * o.ratio + o.minPerSecond * slots - sum(withdrawals);
      if (balance < 1 - 1e-9) {
        refused++;
        return false;
      }
      withdrawals[slot] += 1;
      spent++;
      return true;
    },
    get spent() {
      return spent;
    },
    get refused() {
      return refused;
    },
  };
}
