import type { Database } from './database.js';
import { createOrMatchRun, getRun, type RunRecord } from './runs.js';
import { countInstances, landInstances, landResponses, type ResponseRow } from './instances.js';
import { deleteFailedReviews } from './reviews.js';
import type { EvalInstance } from '../dataset.js';
import { InputError } from '../errors.js';

export interface PrepareRunRequest {
  record: RunRecord;
  /** The run's instances (empty: use those already stored, e.g. `review --run NAME`). */
  instances: readonly EvalInstance[];
  responses?: readonly ResponseRow[];
  retryFailed?: boolean;
  changeJudge?: boolean;
  /** The --limit the user gave, checked against an existing run. */
  limit?: number;
}

export interface PrepareRunResult {
  existed: boolean;
  newInstances: number;
  newResponses: number;
  retried: number;
  instances: number;
  record: RunRecord;
}

/**
 * Record a run (or match it to the stored run of that name) and land its inputs, in one
 * transaction: either all of it is stored or nothing is. Landing is idempotent, so running the
 * same command again lands nothing new and resumes the run.
 */
export async function prepareRun(db: Database, req: PrepareRunRequest): Promise<PrepareRunResult> {
  return db.run(async (sql) => {
    const before = await countInstances(sql, req.record.runId);
    if (before > 0 && req.limit !== undefined && req.instances.length === 0 && req.limit !== before) {
      throw new InputError(`run "${req.record.runId}" has ${before} instances; --limit is chosen when a run is created. Drop --limit, or use a new --run name.`);
    }
    if (before > req.instances.length && req.instances.length > 0) {
      throw new InputError(
        `run "${req.record.runId}" already has ${before} instances, more than the ${req.instances.length} given now (--limit ${req.limit ?? 'none'}): ` +
          `a run cannot shrink. Use --limit ${before} (or none) to resume it, or a new --run name.`,
      );
    }
    const existed = await createOrMatchRun(sql, req.record, { changeJudge: req.changeJudge });
    const newInstances = await landInstances(sql, req.record.runId, req.instances);
    const newResponses = req.responses ? await landResponses(sql, req.record.runId, req.responses) : 0;
    const retried = req.retryFailed ? await deleteFailedReviews(sql, req.record.runId) : 0;
    const instances = await countInstances(sql, req.record.runId);
    if (instances === 0) throw new InputError(`run "${req.record.runId}" has no instances: the input holds none (nothing was stored).`);
    return { existed, newInstances, newResponses, retried, instances, record: (await getRun(sql, req.record.runId))! };
  });
}
