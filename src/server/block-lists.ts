// Block lists around the pipeline's block stage: list files read and kept copies of URL lists
// put in force before any listener opens (a missing file stops the start), downloads through
// Holdfast's own TLS client and resolution, and the settings a SIGHUP changes.

import type { ServerConfig } from '../config/config.ts';
import type { Runtime } from '../core/ports.ts';
import type { createPipeline } from '../pipeline/chain.ts';
import { fetchList } from '../services/block-lists/fetch.ts';
import { createBlockListService, type BlockListEvent, type BlockListService } from '../services/block-lists/service.ts';
import type { ClockGuard } from '../upstreams/clock-guard.ts';

/**
 * How long one list download may take, redirects included: a 64 MiB list over a slow DSL line
 * takes minutes, and nothing waits on it (the last copy is in force meanwhile).
 */
const LIST_DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

export interface BlockLists {
  readonly service: BlockListService;
  /** Reads what `next` lists; resolves with the step that puts it in force, or rejects changing nothing. */
  prepare(next: ServerConfig, caPem: string | undefined): Promise<() => Promise<void>>;
}

export async function startBlockLists(
  config: ServerConfig,
  runtime: Runtime,
  pipeline: ReturnType<typeof createPipeline>,
  caPem: string | undefined,
  clockGuard: ClockGuard,
  onEvent?: (event: BlockListEvent) => void,
): Promise<BlockLists> {
  // What a SIGHUP may change under downloads already scheduled.
  let listCaPem = caPem;
  let connectTimeoutMs = config.encryptedUpstream.connectTimeoutMs;
  const service = createBlockListService(
    config.block,
    {
      fs: runtime.fs,
      timers: runtime.timers,
      clock: runtime.clock,
      fetch: (url, validators, maxBytes) =>
        fetchList(
          url,
          validators,
          {
            caPem: listCaPem,
            resolveHost: pipeline.resolveHost,
            proxy: pipeline.proxy ?? undefined,
            connectTimeoutMs,
            clockGuard,
            timeoutMs: LIST_DOWNLOAD_TIMEOUT_MS,
            maxBytes,
          },
          runtime,
        ),
    },
    pipeline.block,
    onEvent,
  );
  try {
    await service.start();
  } catch (e) {
    service.stop();
    throw e;
  }
  return {
    service,
    async prepare(next, nextCaPem) {
      const commit = await service.prepare(next.block);
      return async () => {
        listCaPem = nextCaPem;
        connectTimeoutMs = next.encryptedUpstream.connectTimeoutMs;
        await commit();
      };
    },
  };
}
