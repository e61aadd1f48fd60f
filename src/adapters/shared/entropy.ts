// Random 16-bit DNS IDs from the Web Crypto CSPRNG, which all three runtimes provide, drawn
// in blocks so a miss does not pay for a system call.

const BLOCK = 1024;

export function createId16(): () => number {
  const pool = new Uint16Array(BLOCK);
  let next = BLOCK;
  return () => {
    if (next === BLOCK) {
      crypto.getRandomValues(pool);
      next = 0;
    }
    return pool[next++];
  };
}
