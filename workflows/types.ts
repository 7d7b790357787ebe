/**
 * Types shared by workflows, activities and the client. Kept free of Node imports because
 * the workflow bundle (Temporal's deterministic sandbox) includes this file.
 */

/** One unit of work on one instance. A run's pipeline is a list of steps done in order per instance. */
export type Step = 'generate' | 'review' | 'domain' | 'skillset' | 'difficulty';

/** Which endpoint a step calls: each role has its own task queue, concurrency and rate limit. */
export function roleOf(step: Step): 'model' | 'judge' {
  return step === 'generate' ? 'model' : 'judge';
}

export interface StepInput {
  runId: string;
  idx: number;
}

export interface StepResult {
  /** skipped: already landed by an earlier attempt or run; nothing was called or paid for. */
  status: 'done' | 'failed' | 'skipped';
  tokens: number;
  calls: number;
  reason?: string;
}

export interface TaskQueues {
  /** Workflows and bookkeeping activities. */
  control: string;
  judge: string;
  model: string;
}

export function taskQueuesFor(base: string): TaskQueues {
  return { control: base, judge: `${base}-judge`, model: `${base}-model` };
}

export interface Progress {
  total: number;
  /** Instances whose every step landed (including ones finished before this execution). */
  done: number;
  failed: number;
  pending: number;
  tokens: number;
  calls: number;
  /** Instances found already finished when a batch started: work not redone on resume. */
  resumed: number;
}

export function emptyProgress(total = 0): Progress {
  return { total, done: 0, failed: 0, pending: total, tokens: 0, calls: 0, resumed: 0 };
}

export function addProgress(a: Progress, b: Progress): Progress {
  return {
    total: a.total,
    done: a.done + b.done,
    failed: a.failed + b.failed,
    pending: a.pending,
    tokens: a.tokens + b.tokens,
    calls: a.calls + b.calls,
    resumed: a.resumed + b.resumed,
  };
}

export interface RunWorkflowInput {
  runId: string;
  steps: Step[];
  queues: TaskQueues;
  /** Instances in flight per batch (two batches run at once; worker slots cap the actual calls). */
  concurrency: number;
  /** Instances per child workflow: bounds each child's history. */
  batchSize: number;
  /** Activity attempts before an instance's step is recorded as failed. */
  maxAttempts: number;
  /** A step activity silent this long is presumed dead (its worker crashed) and retried elsewhere. */
  heartbeatTimeoutMs?: number;
  /** Continue-as-new once the parent's history passes this many events (default 4,000). */
  maxHistoryEvents?: number;
  /** Carried over continue-as-new. */
  nextOrd?: number;
  carried?: Progress;
}

export interface BatchWorkflowInput {
  runId: string;
  steps: Step[];
  queues: TaskQueues;
  fromOrd: number;
  toOrd: number;
  concurrency: number;
  maxAttempts: number;
  heartbeatTimeoutMs?: number;
}

export interface RunStatus {
  /** Totals of finished batches. */
  progress: Progress;
  /** Workflow ids of batches still running: query them for their share. */
  runningBatches: string[];
}

export function runWorkflowId(runId: string): string {
  return `flask-run-${runId}`;
}
