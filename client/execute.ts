import type { Database } from '../core/store/database.js';
import { createOrMatchRun, type RunRecord } from '../core/store/runs.js';
import { landInstances, landResponses, type ResponseRow } from '../core/store/instances.js';
import { deleteFailedReviews } from '../core/store/reviews.js';
import type { EvalInstance } from '../core/dataset.js';
import { temporalConfig, type EndpointConfig } from '../core/config.js';
import { taskQueuesFor, type Progress, type Step } from '../workflows/types.js';
import { openSession } from './session.js';
import { followRun, startOrAttach } from './runs.js';
import { progressPrinter } from './progressBar.js';

export interface RunOptions {
  /** Instances in flight in the workflow. */
  concurrency: number;
  /** Calls in flight per endpoint in this process's worker (default: concurrency). */
  judgeConcurrency?: number;
  modelConcurrency?: number;
  batchSize: number;
  maxAttempts: number;
  retryFailed: boolean;
  /** Start (or attach) and return without following. */
  detach: boolean;
  /** Run a worker in this process even with TEMPORAL_ADDRESS set. */
  withWorker: boolean;
  judgeRps?: number;
  modelRps?: number;
}

/**
 * The life of every run, whatever its steps: record it (or match it to the stored run of that
 * name), land its inputs idempotently, start or attach to its workflow, follow it with a
 * progress bar. Running the same command again resumes instead of starting over.
 */
export async function executeRun(a: {
  db: Database;
  record: RunRecord;
  instances: readonly EvalInstance[];
  responses?: readonly ResponseRow[];
  steps: Step[];
  judge: EndpointConfig;
  model: EndpointConfig;
  options: RunOptions;
  log: (s: string) => void;
}): Promise<Progress | undefined> {
  const { db, record, options, log } = a;
  const landed = await db.run(async (sql) => {
    const existed = await createOrMatchRun(sql, record);
    const newInstances = await landInstances(sql, record.runId, a.instances);
    const newResponses = a.responses ? await landResponses(sql, record.runId, a.responses) : 0;
    const retried = options.retryFailed ? await deleteFailedReviews(sql, record.runId) : 0;
    return { existed, newInstances, newResponses, retried };
  });
  log(
    landed.existed
      ? `Run "${record.runId}" exists: resuming (landed results are kept and not redone${landed.retried ? `; ${landed.retried} failed reviews will be retried` : ''}).`
      : `Run "${record.runId}" created: ${landed.newInstances} instances${a.responses ? `, ${landed.newResponses} responses` : ''}.`,
  );

  const inProcessWorker = !temporalConfig().address || options.withWorker;
  const session = await openSession({
    db, judge: a.judge, model: a.model, inProcessWorker, log,
    judgeConcurrency: options.judgeConcurrency ?? options.concurrency, modelConcurrency: options.modelConcurrency ?? options.concurrency,
    judgeRps: options.judgeRps, modelRps: options.modelRps,
  });
  try {
    const { handle, attached } = await startOrAttach(session.client, {
      runId: record.runId, steps: a.steps, queues: taskQueuesFor(session.taskQueue),
      concurrency: options.concurrency, batchSize: options.batchSize, maxAttempts: options.maxAttempts,
    });
    log(`${attached ? 'Attached to running' : 'Started'} workflow ${handle.workflowId}${session.uiUrl ? ` (${session.uiUrl}/namespaces/default/workflows/${handle.workflowId})` : ''}`);
    if (!inProcessWorker) log('No worker in this process: `flask-eval worker` processes pick the work up.');
    if (options.detach) return undefined;
    process.once('SIGINT', () => {
      log(`\nInterrupted. The run stays in Temporal (${handle.workflowId}); run the same command again to resume it.`);
      process.exit(130);
    });
    const bar = progressPrinter(record.runId);
    const final = await followRun(session.client, handle, (p) => bar.update(p));
    bar.end();
    return final;
  } finally {
    await session.close();
  }
}
