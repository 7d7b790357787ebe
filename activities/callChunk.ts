import { setMaxListeners } from 'node:events';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { EndpointRef } from '../core/provider/endpoint.js';
import type { ChatProvider } from '../core/provider/provider.js';
import type { EndpointLimiter } from '../core/rate/index.js';
import type { EndpointActivities } from '../core/activityContracts.js';
import type { CallChunkInput, CallChunkResult } from '../core/pipeline.js';
import { EndpointStats } from './endpointStats.js';
import { createBatchActivities } from './batchCalls.js';
import { chunkStats, resumeCheckpoint, type Checkpoint } from './checkpoint.js';
import { HeartbeatCoalescer } from './heartbeats.js';
import { runItem, type ItemRun } from './runItem.js';
import { workerCannotWork } from './workerCannotWork.js';

export interface EndpointDeps {
  /** The endpoint this worker serves: activities for any other are refused. */
  endpoint: EndpointRef;
  provider: ChatProvider;
  limiter: EndpointLimiter;
  stats?: EndpointStats;
  /** A call's timeout (--request-timeout; the provider's default otherwise). */
  requestTimeoutMs?: number;
  /** Backoff after a transient error (ms, by failed-call count); tests shorten it. */
  backoffMs?: (failures: number) => number;
}

/**
 * The endpoint worker's activity: every instance of a chunk through one step. It touches no
 * file: what it needs comes in its input, what it produced goes back to the workflow, which
 * has the store land it. Rate limits are waited out here (they spend no attempt); transient
 * errors spend one of `maxAttempts`; an unparseable answer is asked again (bounded). Progress is
 * heartbeated every second, so when a worker dies the retried chunk skips finished instances
 * and records the calls that were in flight as lost, and the unfinished instances that may have been
 * sent after the last heartbeat as possibly sent (they are sent again, and counted).
 */
export function createEndpointActivities(deps: EndpointDeps): EndpointActivities {
  const stats = deps.stats ?? new EndpointStats();
  // 0.5 s, 1 s, 2 s, ... (the openai SDK's own schedule, which it does not run here): an instance
  // waiting on a long backoff holds up its whole chunk's landing.
  const backoffMs = deps.backoffMs ?? ((n: number) => Math.min(30_000, 500 * 2 ** (n - 1)) * (0.8 + Math.random() * 0.4));

  return {
    ...createBatchActivities({ endpoint: deps.endpoint, provider: deps.provider }),
    async callChunk(input: CallChunkInput): Promise<CallChunkResult> {
      if (input.endpoint.id !== deps.endpoint.id) {
        throw ApplicationFailure.nonRetryable(
          `this worker serves ${deps.endpoint.model} at ${deps.endpoint.baseUrl}, but run ${input.runId} is bound to ` +
            `${input.endpoint.model} at ${input.endpoint.baseUrl}: start a worker for that endpoint`,
          'EndpointMismatch',
        );
      }
      const ctx = currentContext();
      // Every call of the chunk listens on the activity's one cancellation signal (the openai SDK
      // adds an abort listener per request): more than 10 in flight is normal, not a leak.
      if (ctx) setMaxListeners(0, ctx.cancellationSignal);
      const { cp, lost } = resumeCheckpoint(ctx?.info.heartbeatDetails as Checkpoint | undefined, input.endpoint.model, {
        idxs: input.items.map((it) => it.idx), retry: (ctx?.info.attempt ?? 1) > 1,
      });
      const doneIdx = new Set(cp.done.map((o) => o.idx));
      const heartbeats = new HeartbeatCoalescer(() => ctx?.heartbeat(cp));
      if (lost > 0) heartbeats.changed();
      const run: ItemRun = {
        input, provider: deps.provider, limiter: deps.limiter, stats, cp, changed: () => heartbeats.changed(), backoffMs,
        ...(deps.requestTimeoutMs ? { requestTimeoutMs: deps.requestTimeoutMs } : {}), ...(ctx ? { signal: ctx.cancellationSignal } : {}),
      };
      try {
        await Promise.all(
          input.items.filter((it) => !doneIdx.has(it.idx)).map(async (item) => {
            cp.done.push(await runItem(item, run));
            heartbeats.changed();
          }),
        );
      } catch (err) {
        throw workerCannotWork(err, input.endpoint, input.runId, input.step);
      } finally {
        heartbeats.stop();
      }
      const byIdx = new Map(cp.done.map((o) => [o.idx, o]));
      const results = input.items.flatMap((it) => byIdx.get(it.idx) ?? []);
      return { results, stats: chunkStats(results, lost) };
    },
  };
}

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // called outside an activity (unit tests)
  }
}

