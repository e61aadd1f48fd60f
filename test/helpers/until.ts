// Waiting on a real process or socket without asserting how long it took: poll a condition,
// bounded, and let the test assert the outcome.

/** Resolves true once `cond()` holds, checking every 20 ms; false if it still fails after `limitMs`. */
export async function until(cond: () => boolean, limitMs = 5000): Promise<boolean> {
  for (let waited = 0; waited < limitMs && !cond(); waited += 20) await new Promise((r) => setTimeout(r, 20));
  return cond();
}
