import type { Database } from './database.js';
import { createOrMatchRun, getRun, type RunRecord } from './runs.js';
import { countInstances, landInstances, landResponses, type ResponseRow } from './instances.js';
import { deleteFailedReviews } from './reviews.js';
import type { EvalInstance } from '../flask/dataset.js';
import { InputError } from '../errors.js';

/** What a command asks the store for (sent to the state server as NDJSON, see httpApi.ts). */
export interface PrepareRunRequest {
  record: RunRecord;
  /** The run's instances (none: use those already stored, e.g. `review --run NAME`); read once, as they are sent. */
  instances: Iterable<EvalInstance>;
  responses?: Iterable<ResponseRow>;
  retryFailed?: boolean;
  changeJudge?: boolean;
  /** The --limit the user gave, checked against an existing run. */
  limit?: number;
}

/** A slice of a run's inputs, in order: every instance batch comes before the response batches. */
export interface InputBatch {
  instances?: EvalInstance[];
  responses?: ResponseRow[];
}

/**
 * The store's side of it: the inputs as batches read again on every call, so a 100,000-instance
 * upload is never held in memory at once and a retried transaction reads them anew.
 */
export interface StoreRunRequest extends Omit<PrepareRunRequest, 'instances' | 'responses'> {
  instanceCount: number;
  inputs: () => Iterable<InputBatch>;
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
export async function prepareRun(db: Database, req: StoreRunRequest): Promise<PrepareRunResult> {
  return db.run(async (sql) => {
    const given = req.instanceCount;
    const before = await countInstances(sql, req.record.runId);
    if (before > 0 && req.limit !== undefined && given === 0 && req.limit !== before) {
      throw new InputError(`run "${req.record.runId}" has ${before} instances; --limit is chosen when a run is created. Drop --limit, or use a new --run name.`);
    }
    if (before > given && given > 0) {
      throw new InputError(
        `run "${req.record.runId}" already has ${before} instances, more than the ${given} given now (--limit ${req.limit ?? 'none'}): ` +
          'a run cannot shrink. If it is the same evaluation set, resume it with --limit ' + before + ' (or none); if it is another ' +
          '(--hard, --eval-set, other answers), give it a run of its own: --run NAME.',
      );
    }
    const existed = await createOrMatchRun(sql, req.record, { changeJudge: req.changeJudge });
    let newInstances = 0;
    let newResponses = 0;
    let ord = 0;
    for (const batch of req.inputs()) {
      if (batch.instances?.length) {
        newInstances += await landInstances(sql, req.record.runId, batch.instances, ord);
        ord += batch.instances.length;
      }
      if (batch.responses?.length) newResponses += await landResponses(sql, req.record.runId, batch.responses);
    }
    const retried = req.retryFailed ? await deleteFailedReviews(sql, req.record.runId) : 0;
    const instances = await countInstances(sql, req.record.runId);
    if (instances === 0) throw new InputError(`run "${req.record.runId}" has no instances: the input holds none (nothing was stored).`);
    return { existed, newInstances, newResponses, retried, instances, record: (await getRun(sql, req.record.runId))! };
  });
}
