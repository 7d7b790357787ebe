// STUB (lead): replaced at merge by the lead's core/store/prepareRun.ts. Today's landing code of
// client/execute.ts behind the agreed interface, so the state server can serve POST /runs.
import type { Database } from './database.js';
import { createOrMatchRun, type RunRecord } from './runs.js';
import { landInstances, landResponses, type ResponseRow } from './instances.js';
import { deleteFailedReviews } from './reviews.js';
import type { EvalInstance } from '../dataset.js';

export interface PrepareRunRequest {
  record: RunRecord;
  instances: EvalInstance[];
  responses?: ResponseRow[];
  retryFailed?: boolean;
  changeJudge?: boolean;
  limit?: number;
}

export interface PrepareRunResult {
  existed: boolean;
  newInstances: number;
  newResponses: number;
  retried: number;
}

export async function prepareRun(db: Database, req: PrepareRunRequest): Promise<PrepareRunResult> {
  return db.run(async (sql) => {
    const existed = await createOrMatchRun(sql, req.record);
    const instances = req.limit !== undefined ? req.instances.slice(0, req.limit) : req.instances;
    const newInstances = await landInstances(sql, req.record.runId, instances);
    const newResponses = req.responses ? await landResponses(sql, req.record.runId, req.responses) : 0;
    const retried = req.retryFailed ? await deleteFailedReviews(sql, req.record.runId) : 0;
    return { existed, newInstances, newResponses, retried };
  });
}
