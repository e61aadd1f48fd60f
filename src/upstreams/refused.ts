// Is a socket error the upstream's host saying that nothing listens there? Node and Bun give
// the error code ECONNREFUSED; Deno an error named ConnectionRefused ("Connection refused (os
// error 111)"). Such a refusal is an answer: the copy fails at once and the query moves on.

export function isRefusal(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if ((e as Error & { code?: unknown }).code === 'ECONNREFUSED' || e.name === 'ConnectionRefused') return true;
  return /ECONNREFUSED|connection refused/i.test(e.message);
}
