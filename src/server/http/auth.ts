// The optional bearer token (RFC 6750 §2.1: "Authorization: Bearer TOKEN"), compared in
// constant time so that response timing does not tell an attacker how much of a guess was right.

const encoder = new TextEncoder();

/** Compares every byte of the expected secret whatever the guess; only the guess's own length shows. */
export function sameSecret(given: string, expected: Uint8Array): boolean {
  const g = encoder.encode(given);
  let diff = g.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) diff |= expected[i] ^ (i < g.length ? g[i] : 0);
  return diff === 0;
}

/** A checker for Authorization headers; with no token configured every request passes. */
export function createBearerCheck(token: string | null): (authorization: string | null) => boolean {
  if (token === null) return () => true;
  const expected = encoder.encode(token);
  return (authorization) => {
    if (authorization === null) return false;
    // The scheme is case-insensitive (RFC 7235 §2.1); the token is not.
    const m = /^bearer +(\S+) *$/i.exec(authorization);
    return m !== null && sameSecret(m[1], expected);
  };
}
