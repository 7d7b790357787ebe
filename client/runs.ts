import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { runWorkflow, runStatusQuery, batchProgressQuery } from '../workflows/index.js';
import { runWorkflowId, type Progress, type RunWorkflowInput } from '../workflows/types.js';

export type RunHandle = WorkflowHandle<typeof runWorkflow>;

/**
 * Start the run's workflow, or attach to it if it is already running. A run that finished (or
 * failed, or was terminated) is started again under the same id: it skips every instance
 * already landed in DuckDB, so nothing is judged twice.
 */
export async function startOrAttach(client: Client, input: RunWorkflowInput): Promise<{ handle: RunHandle; attached: boolean }> {
  const workflowId = runWorkflowId(input.runId);
  const existing = client.workflow.getHandle<typeof runWorkflow>(workflowId);
  try {
    const d = await existing.describe();
    if (d.status.name === 'RUNNING') return { handle: existing, attached: true };
  } catch (e) {
    if (!(e instanceof WorkflowNotFoundError)) throw e;
  }
  const handle = await client.workflow.start(runWorkflow, {
    workflowId,
    taskQueue: input.controlQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return { handle, attached: false };
}

/** The run's progress: totals of finished batches plus what running batches report. */
export async function runProgress(client: Client, handle: RunHandle): Promise<Progress> {
  const status = await handle.query(runStatusQuery);
  const p = { ...status.progress };
  for (const id of status.runningBatches) {
    try {
      const b = await client.workflow.getHandle(id).query(batchProgressQuery);
      p.done += b.done;
      p.failed += b.failed;
      p.tokens += b.tokens;
      p.calls += b.calls;
      p.rateLimited += b.rateLimited ?? 0;
      p.resent += b.resent ?? 0;
      p.resumed += b.resumed;
    } catch {
      // The batch finished between the two queries; its counts reach the parent shortly.
    }
  }
  p.pending = Math.max(0, p.total - p.done - p.failed);
  return p;
}

/** Follow a run to its end, calling `onProgress` every `everyMs`. Returns the final counts. */
export async function followRun(client: Client, handle: RunHandle, onProgress: (p: Progress) => void, everyMs = 500): Promise<Progress> {
  let finished = false;
  const result = handle.result().finally(() => { finished = true; });
  while (!finished) {
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, everyMs))]);
    if (finished) break;
    try {
      onProgress(await runProgress(client, handle));
    } catch {
      // The first workflow task may not have run yet: no query handler to answer.
    }
  }
  const final = await result;
  onProgress(final);
  return final;
}
