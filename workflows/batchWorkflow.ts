import { ActivityFailure, ApplicationFailure, defineQuery, proxyActivities, setHandler } from '@temporalio/workflow';
import type { ControlActivities, StepActivities } from './activityTypes.js';
import { STEP_ACTIVITY } from './activityTypes.js';
import { roleOf, type BatchWorkflowInput, type Progress, type Step, type StepResult } from './types.js';

export const batchProgressQuery = defineQuery<Progress>('batchProgress');

/** Errors that mean every instance would fail the same way: stop the run instead of marking each one failed. */
const RUN_STOPPING_ERRORS = ['ProviderError.auth', 'ProviderError.not_found'];

/**
 * One batch of a run: every instance in [fromOrd, toOrd) goes through the run's steps in order,
 * `concurrency` instances at a time. Instances are pipelined: one can be at review while
 * another is still being generated. Only ids travel through history, never texts.
 */
export async function batchWorkflow(input: BatchWorkflowInput): Promise<Progress> {
  const control = proxyActivities<ControlActivities>({
    taskQueue: input.queues.control,
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
  });
  const stepActivities = {
    judge: proxyActivities<StepActivities>(stepOptions(input.queues.judge, input.maxAttempts, input.heartbeatTimeoutMs)),
    model: proxyActivities<StepActivities>(stepOptions(input.queues.model, input.maxAttempts, input.heartbeatTimeoutMs)),
  };

  const items = await control.listWorkItems({ runId: input.runId, steps: input.steps, fromOrd: input.fromOrd, toOrd: input.toOrd });
  const total = input.toOrd - input.fromOrd;
  const progress: Progress = {
    total, done: items.done, failed: items.failed, pending: items.pending.length,
    tokens: 0, calls: 0, resumed: items.done + items.failed,
  };
  setHandler(batchProgressQuery, () => progress);

  async function runStep(step: Step, idx: number): Promise<StepResult> {
    const act = stepActivities[roleOf(step)][STEP_ACTIVITY[step]];
    try {
      return await act({ runId: input.runId, idx });
    } catch (err) {
      const type = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause.type : undefined;
      if (type && RUN_STOPPING_ERRORS.includes(type)) throw err;
      // Retries are exhausted (or the request itself was rejected): record why, move on.
      const reason = err instanceof ActivityFailure && err.cause ? err.cause.message : String(err);
      await control.recordStepFailure({ runId: input.runId, idx, step, reason });
      return { status: 'failed', tokens: 0, calls: 0, reason };
    }
  }

  async function runInstance(idx: number): Promise<void> {
    let failed = false;
    for (const step of input.steps) {
      const r = await runStep(step, idx);
      progress.tokens += r.tokens;
      progress.calls += r.calls;
      if (r.status === 'failed') {
        failed = true;
        break; // a failed step leaves nothing for the next one to work on
      }
    }
    progress.pending -= 1;
    if (failed) progress.failed += 1;
    else progress.done += 1;
  }

  await pool(items.pending, input.concurrency, runInstance);
  return progress;
}

function stepOptions(taskQueue: string, maxAttempts: number, heartbeatTimeoutMs = 60_000) {
  return {
    taskQueue,
    // One model call plus bounded re-asks for unparseable answers.
    startToCloseTimeout: '10 minutes',
    // Activities heartbeat while they wait on the model, so a crashed worker's steps are
    // retried after this, not after the 10 minutes.
    heartbeatTimeout: heartbeatTimeoutMs,
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '2 minutes',
      maximumAttempts: maxAttempts,
    },
  } as const;
}

/** Run `fn` over `items` with at most `limit` in flight (deterministic: plain promises). */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(lanes);
}
