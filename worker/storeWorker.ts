import { Worker, type NativeConnection } from '@temporalio/worker';
import { createStoreActivities } from '../activities/storeActivities.js';
import type { Database } from '../core/store/database.js';
import { workflowBundle } from './workflowBundle.js';
import { dataConverter } from '../core/temporal/compressionCodec.js';

export interface StoreRole {
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * The store role: the one process that owns the results file runs the workflows (they are
 * pure orchestration, cheap) and the store activities on the control queue. Endpoint workers,
 * anywhere, need only Temporal.
 */
export async function startStoreRole(o: { connection: NativeConnection; namespace: string; controlQueue: string; db: Database }): Promise<StoreRole> {
  const worker = await Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.controlQueue,
    workflowBundle: await workflowBundle(),
    dataConverter,
    activities: createStoreActivities({ db: o.db }),
    maxConcurrentActivityTaskExecutions: 200,
    maxConcurrentWorkflowTaskExecutions: 100,
  });
  const done = worker.run();
  return {
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
