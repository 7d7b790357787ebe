import { continueAsNew, defineQuery, patched, proxyActivities, setHandler, startChild, workflowInfo, type ChildWorkflowHandle } from '@temporalio/workflow';
import type { StoreActivities } from '../core/activityContracts.js';
import { batchWorkflow } from './batchWorkflow.js';
import { RUN_STATUS_QUERY, addProgress, emptyProgress, type Progress, type RunPlan, type RunStatus, type RunWorkflowInput } from '../core/pipeline.js';

export const runStatusQuery = defineQuery<RunStatus>(RUN_STATUS_QUERY);

/** Keep the parent's history short: continue-as-new well before Temporal's limits. */
const MAX_HISTORY_EVENTS = 4000;

/**
 * A whole run: its instances are cut into batches of `batchSize` by their ord, and each batch is
 * a child workflow. Two batches run at once (one under a budget), so one batch's tail does not idle the endpoint. The
 * parent sees only counts, so a run of 100,000 instances is ~500 children of ~200 instances.
 */
export async function runWorkflow(input: RunWorkflowInput): Promise<Progress> {
  const store = proxyActivities<StoreActivities>({
    taskQueue: input.controlQueue, startToCloseTimeout: '2 minutes', heartbeatTimeout: '10 seconds', retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
  });
  const total = await store.countWorkItems(input.runId);
  let finished: Progress = input.carried ? { ...input.carried, total } : emptyProgress(total);
  const running = new Map<string, ChildWorkflowHandle<typeof batchWorkflow>>();
  setHandler(runStatusQuery, () => ({ progress: finished, runningBatches: [...running.keys()] }));

  // A budgeted run has one batch at a time: each batch reserves against what the previous ones
  // landed (core/cost/budgetReservations.ts), and two at once would each count on the same room.
  const parallel = input.maxCostUsd !== undefined && patched('budget-reservations') ? 1 : 2;
  const parentId = workflowInfo().workflowId;
  let nextOrd = input.nextOrd ?? 0;

  const waitForOne = async () => {
    const [id, result] = await Promise.race([...running].map(async ([id, h]) => [id, await h.result()] as const));
    running.delete(id);
    finished = addProgress(finished, result);
    finished.pending = Math.max(0, total - finished.done - finished.failed);
  };

  // A batch that reached the run's budget (--max-cost): start no other batch.
  const stopped = () => finished.stopped !== undefined;
  while (nextOrd < total && !stopped()) {
    while (running.size < parallel && nextOrd < total) {
      const fromOrd = nextOrd;
      const toOrd = Math.min(total, fromOrd + input.batchSize);
      const id = `${parentId}-batch-${fromOrd}`;
      running.set(
        id,
        await startChild(batchWorkflow, {
          workflowId: id,
          taskQueue: input.controlQueue,
          args: [{ ...planOf(input), fromOrd, toOrd }],
        }),
      );
      nextOrd = toOrd;
    }
    await waitForOne();
    const info = workflowInfo();
    if ((info.continueAsNewSuggested || info.historyLength > (input.maxHistoryEvents ?? MAX_HISTORY_EVENTS)) && nextOrd < total && !stopped()) {
      while (running.size > 0) await waitForOne();
      await continueAsNew<typeof runWorkflow>({ ...input, nextOrd, carried: finished });
    }
  }
  while (running.size > 0) await waitForOne();
  return finished;
}

/** The part of the run's input every batch shares. */
function planOf(input: RunWorkflowInput): RunPlan {
  const { batchSize: _b, maxHistoryEvents: _m, nextOrd: _n, carried: _c, ...plan } = input;
  return plan;
}
