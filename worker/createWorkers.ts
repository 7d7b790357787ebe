import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/createActivities.js';
import { taskQueuesFor } from '../workflows/types.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundle the workflow code once per process (webpack takes a few seconds). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  return bundle;
}

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Calls in flight per endpoint, in this worker process. */
  judgeConcurrency: number;
  modelConcurrency: number;
  /** Requests per second per endpoint, enforced by the Temporal server across all workers. */
  judgeRps?: number;
  modelRps?: number;
}

export interface RunningWorkers {
  /** Resolves when every worker has stopped. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Three workers: workflows + bookkeeping on the control queue, and one activity worker per
 * endpoint role, so the judge and the evaluated model each get their own concurrency and
 * (server-side, fleet-wide) rate limit.
 */
export async function startWorkers(o: WorkerOptions): Promise<RunningWorkers> {
  const queues = taskQueuesFor(o.taskQueue);
  const activities = createActivities(o.deps);
  const common = { connection: o.connection, namespace: o.namespace, activities };
  const workers = await Promise.all([
    Worker.create({ ...common, taskQueue: queues.control, workflowBundle: await workflowBundle(), maxConcurrentActivityTaskExecutions: 20 }),
    Worker.create({
      ...common, taskQueue: queues.judge, maxConcurrentActivityTaskExecutions: o.judgeConcurrency,
      ...(o.judgeRps ? { maxTaskQueueActivitiesPerSecond: o.judgeRps } : {}),
    }),
    Worker.create({
      ...common, taskQueue: queues.model, maxConcurrentActivityTaskExecutions: o.modelConcurrency,
      ...(o.modelRps ? { maxTaskQueueActivitiesPerSecond: o.modelRps } : {}),
    }),
  ]);
  const done = Promise.all(workers.map((w) => w.run())).then(() => undefined);
  return {
    done,
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
    },
  };
}

const quietLogger = {
  log() {}, trace() {}, debug() {}, info() {},
  warn(message: string, meta?: Record<string, unknown>) { console.warn(message, meta ?? ''); },
  error(message: string, meta?: Record<string, unknown>) { console.error(message, meta ?? ''); },
};
