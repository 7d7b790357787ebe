import { continueAsNew, defineQuery, proxyActivities, setHandler, startChild, workflowInfo, type ChildWorkflowHandle } from '@temporalio/workflow';
import type { ControlActivities } from './activityTypes.js';
import { batchWorkflow } from './batchWorkflow.js';
import { addProgress, emptyProgress, type Progress, type RunStatus, type RunWorkflowInput } from './types.js';

export const runStatusQuery = defineQuery<RunStatus>('runStatus');

/** Keep the parent's history short: continue-as-new well before Temporal's limits. */
const MAX_HISTORY_EVENTS = 4000;

/**
 * A whole run: its instances are cut into batches of `batchSize` by their ord, and each batch is
 * a child workflow. Two batches run at once, so one batch's tail does not idle the endpoint;
 * each may have `concurrency` instances in flight, and the workers' per-endpoint slots cap the
 * calls really in flight (extra tasks wait in Temporal's queue, not in a worker). The parent sees
 * only counts, so a run of 100,000 instances is ~500 children here and ~200 instances per child.
 */
export async function runWorkflow(input: RunWorkflowInput): Promise<Progress> {
  const control = proxyActivities<ControlActivities>({ taskQueue: input.queues.control, startToCloseTimeout: '2 minutes' });
  const total = await control.countWorkItems(input.runId);
  let finished: Progress = input.carried ? { ...input.carried, total } : emptyProgress(total);
  const running = new Map<string, ChildWorkflowHandle<typeof batchWorkflow>>();
  setHandler(runStatusQuery, () => ({ progress: finished, runningBatches: [...running.keys()] }));

  const parallel = 2;
  const parentId = workflowInfo().workflowId;
  let nextOrd = input.nextOrd ?? 0;

  const waitForOne = async () => {
    const [id, result] = await Promise.race([...running].map(async ([id, h]) => [id, await h.result()] as const));
    running.delete(id);
    finished = addProgress(finished, result);
    finished.pending = Math.max(0, total - finished.done - finished.failed);
  };

  while (nextOrd < total) {
    while (running.size < parallel && nextOrd < total) {
      const fromOrd = nextOrd;
      const toOrd = Math.min(total, fromOrd + input.batchSize);
      const id = `${parentId}-batch-${fromOrd}`;
      running.set(
        id,
        await startChild(batchWorkflow, {
          workflowId: id,
          taskQueue: input.queues.control,
          args: [{ runId: input.runId, steps: input.steps, queues: input.queues, fromOrd, toOrd, concurrency: input.concurrency, maxAttempts: input.maxAttempts, heartbeatTimeoutMs: input.heartbeatTimeoutMs }],
        }),
      );
      nextOrd = toOrd;
    }
    await waitForOne();
    const info = workflowInfo();
    if ((info.continueAsNewSuggested || info.historyLength > (input.maxHistoryEvents ?? MAX_HISTORY_EVENTS)) && nextOrd < total) {
      while (running.size > 0) await waitForOne();
      await continueAsNew<typeof runWorkflow>({ ...input, nextOrd, carried: finished });
    }
  }
  while (running.size > 0) await waitForOne();
  return finished;
}
