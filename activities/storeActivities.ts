import type { Database } from '../core/store/database.js';
import { countInstances } from '../core/store/instances.js';
import { landResults } from '../core/store/landResults.js';
import { loadChunkItems, workItemsInRange } from '../core/store/workItems.js';
import type { StoreActivities } from '../core/activityContracts.js';
import { answerFromCache } from './cacheLookup.js';

/**
 * The store's activities, run only by the process that owns the results file. They are
 * small and idempotent: listing, loading a chunk's texts, landing a chunk's outcomes (a group
 * commit shared with every other landing queued meanwhile).
 */
export function createStoreActivities(deps: { db: Database }): StoreActivities {
  const { db } = deps;
  return {
    countWorkItems: (runId) => db.read((sql) => countInstances(sql, runId)),
    listWorkItems: ({ runId, steps, fromOrd, toOrd, judgeIds }) => db.read((sql) => workItemsInRange(sql, runId, steps, fromOrd, toOrd, judgeIds)),
    loadChunk: ({ runId, idxs }) => db.read((sql) => loadChunkItems(sql, runId, idxs)),
    landResults: ({ runId, step, endpoint, results, judgeProfile, judgeId, prices, cache }) =>
      db.run((sql) => landResults(sql, runId, step, endpoint, results, { judgeProfile, judgeId, prices, refreshCache: cache === 'refresh' })),
    answerFromCache: (input) => db.read((sql) => answerFromCache(sql, input)),
  };
}
