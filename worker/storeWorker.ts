// STUB (lead): replaced at merge by the lead's worker/storeWorker.ts. Today's wiring: the
// workflow worker plus the bookkeeping (store) activities on the control queue; model calls
// never run here (the endpoint queues are polled by the commands' own workers).
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities } from '../activities/createActivities.js';
import type { Database } from '../core/store/database.js';
import type { ChatProvider } from '../core/provider/provider.js';
import { workflowBundle } from './createWorkers.js';

const noEndpoint: ChatProvider = {
  complete() {
    throw new Error('the store role calls no model: endpoint activities belong on the endpoint task queues');
  },
};

export async function startStoreRole(o: {
  connection: NativeConnection;
  namespace: string;
  controlQueue: string;
  db: Database;
}): Promise<{ shutdown(): Promise<void>; done: Promise<void> }> {
  const worker = await Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.controlQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities({ db: o.db, judge: noEndpoint, model: noEndpoint }),
    maxConcurrentActivityTaskExecutions: 20,
  });
  const done = worker.run();
  return {
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done.catch(() => undefined);
    },
  };
}
