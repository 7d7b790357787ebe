import type { Database } from '../core/store/database.js';
import { countInstances } from '../core/store/instances.js';
import { landResults } from '../core/store/landResults.js';
import { loadChunkItems, workItemsInRange } from '../core/store/workItems.js';
import type { StoreActivities } from '../core/activityContracts.js';
import type { LivePoller } from '../core/rate/fleet.js';
import { readPromptSet } from '../core/flask/promptSet.js';
import { answerFromCache } from './cacheLookup.js';
import { worstCaseCosts } from './worstCase.js';

/**
 * The store's activities, run only by the process that owns the results file. They are
 * small and idempotent: listing, loading a chunk's texts, landing a chunk's outcomes (a group
 * commit shared with every other landing queued meanwhile).
 */
export function createStoreActivities(deps: {
  db: Database;
  /** Live pollers of an endpoint queue (Temporal's DescribeTaskQueue); none: one worker is assumed. */
  livePollers?: (queue: string) => Promise<LivePoller[]>;
}): StoreActivities {
  const { db, livePollers } = deps;
  return {
    countWorkItems: (runId) => db.read((sql) => countInstances(sql, runId)),
    listWorkItems: ({ runId, steps, fromOrd, toOrd, judgeIds }) => db.read((sql) => workItemsInRange(sql, runId, steps, fromOrd, toOrd, judgeIds)),
    loadChunk: ({ runId, idxs }) => db.read((sql) => loadChunkItems(sql, runId, idxs)),
    liveWorkers: async ({ queues }) => Math.max(1, ...(livePollers ? (await Promise.all(queues.map(livePollers))).map((p) => p.length) : [])),
    liveFleet: async ({ queues }) => {
      // The busiest of the run's endpoint queues: its workers are the ones a batch sizes its chunks for.
      const fleets = livePollers ? await Promise.all(queues.map(livePollers)) : [];
      const most = fleets.reduce<LivePoller[]>((a, b) => (b.length > a.length ? b : a), []);
      return { concurrencies: most.map((p) => p.concurrency ?? null) };
    },
    promptSet: async ({ kind }) => readPromptSet(kind),
    landResults: ({ runId, step, endpoint, results, judgeProfile, judgeId, prices, batchFallback, cache }) =>
      db.run((sql) => landResults(sql, runId, step, endpoint, results, { judgeProfile, judgeId, prices, batchFallback, refreshCache: cache === 'refresh' })),
    answerFromCache: (input) => db.read((sql) => answerFromCache(sql, input)),
    worstCaseCosts: (input) => db.read((sql) => worstCaseCosts(sql, input)),
  };
}
