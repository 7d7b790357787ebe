import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { runWorkflow } from '../workflows/index.js';
import { BATCH_PROGRESS_QUERY, RUN_STATUS_QUERY, runWorkflowId, type Progress, type RunStatus, type RunWorkflowInput } from '../core/pipeline.js';
import { isTemporalUnreachable, outageReporter, retryWhileUnreachable, type OutageReporter } from './temporalOutage.js';
import { setTimeout as sleep } from 'node:timers/promises';

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
  const handle = await client.workflow.start<typeof runWorkflow>('runWorkflow', {
    workflowId,
    taskQueue: input.controlQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return { handle, attached: false };
}

/** The run's progress: totals of finished batches plus what running batches report. */
export async function runProgress(client: Client, handle: RunHandle): Promise<Progress> {
  const status = await handle.query<RunStatus>(RUN_STATUS_QUERY);
  const p = { ...status.progress };
  for (const id of status.runningBatches) {
    try {
      const b = await client.workflow.getHandle(id).query<Progress>(BATCH_PROGRESS_QUERY);
      p.done += b.done;
      p.failed += b.failed;
      p.tokens += b.tokens;
      p.calls += b.calls;
      p.rateLimited += b.rateLimited ?? 0;
      p.resent += b.resent ?? 0;
      p.resumed += b.resumed;
      p.batchFallback ??= b.batchFallback;
    } catch {
      // The batch finished between the two queries; its counts reach the parent shortly.
    }
  }
  p.pending = Math.max(0, p.total - p.done - p.failed);
  return p;
}

export interface FollowOptions {
  everyMs?: number;
  /** Outage messages ("Temporal unreachable since ...", "Temporal is back"). */
  log?: (s: string) => void;
  outage?: OutageReporter;
}

/**
 * Follow a run to its end, calling `onProgress` every `everyMs`. Returns the final counts.
 * Rides out Temporal outages: while Temporal cannot be reached (the dev server restarting, a
 * cluster failing over) it says so once, keeps retrying with backoff, and carries on when
 * Temporal answers again. Any other failure (the workflow failed) is thrown.
 */
export async function followRun(client: Client, handle: RunHandle, onProgress: (p: Progress) => void, o: FollowOptions | number = {}): Promise<Progress> {
  const opts: FollowOptions = typeof o === 'number' ? { everyMs: o } : o;
  const everyMs = opts.everyMs ?? 500;
  const outage = opts.outage ?? outageReporter(opts.log ?? ((s) => process.stderr.write(`${s}\n`)));
  // The result's long poll, restarted after a connection failure (the workflow id is the same).
  let finished = false;
  const result = retryWhileUnreachable(() => handle.result(), outage).finally(() => { finished = true; });
  while (!finished) {
    await Promise.race([result.catch(() => undefined), sleep(everyMs)]);
    if (finished) break;
    if (outage.isDown) {
      // Back when Temporal itself answers, not when a worker answers a query again.
      if (await temporalAnswers(client)) outage.up();
      continue;
    }
    const query = client.connection.withDeadline(Date.now() + 10_000, () => runProgress(client, handle)).then(
      (p) => ({ p }),
      (e: unknown) => ({ e }),
    );
    // A query slower than this makes us check whether Temporal is there at all.
    let r = await Promise.race([query, sleep(2000).then(() => undefined)]);
    if (!r) {
      if (!(await temporalAnswers(client))) {
        outage.down();
        continue;
      }
      r = await query;
    }
    if ('p' in r) onProgress(r.p);
    else if (isTemporalUnreachable(r.e) && !(await temporalAnswers(client))) outage.down();
    // Any other failure: the first workflow task may not have run yet (no query handler); retry.
  }
  const final = await result;
  outage.up();
  onProgress(final);
  return final;
}

/** A cheap call that needs only the Temporal frontend (no worker): is Temporal reachable? */
async function temporalAnswers(client: Client, timeoutMs = 1500): Promise<boolean> {
  try {
    await client.connection.withDeadline(Date.now() + timeoutMs, () => client.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  }
}

