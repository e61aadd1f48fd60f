// A real lossy, delayed network path for integration tests: two network namespaces (Holdfast's
// side and the upstream's) joined by a veth pair, nftables dropping a chosen share of packets in
// each direction, and a relay adding delay in front of the upstream. The code lives in
// build/bench/netns.mjs because `npm run bench:lossy` (plain Node, no TypeScript) uses the same
// path; this file gives tests its types and a skip reason.

import process from 'node:process';
import { runtimeName } from './runtime.ts';

export {
  createLossyLink,
  HOST_ADDRESS,
  lossyLinkUnavailable,
  probeInNs,
  sendQueries,
  startDelayRelay,
  startTracked,
  UPSTREAM_ADDRESS,
} from '../../build/bench/netns.mjs';
export type { LossyLink, QueryResult, Started } from '../../build/bench/netns.mjs';

import { lossyLinkUnavailable } from '../../build/bench/netns.mjs';

/**
 * Why a test of the Holdfast process over the lossy link does not run here, or null when it
 * does. It runs in one leg of `npm test` only: it tests the holdfast process and the network,
 * not the runtime running the test file, and the other legs would only repeat it slower.
 */
export function lossyLinkSkipReason(leg: typeof runtimeName = 'bun'): string | null {
  if (runtimeName !== leg) return `runs in the ${leg} leg only (it tests the holdfast process over a real lossy link, not the test runtime)`;
  const unavailable = lossyLinkUnavailable();
  // Set by .github/workflows/ci.yml, whose container is given the capabilities: a skip there
  // would hide that the lossy-link tests never ran.
  if (unavailable && process.env.HOLDFAST_REQUIRE_NETNS === '1') throw new Error(`HOLDFAST_REQUIRE_NETNS=1, but the lossy-link tests cannot run here: ${unavailable}`);
  return unavailable;
}
