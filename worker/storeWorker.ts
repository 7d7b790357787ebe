import { Context } from '@temporalio/activity';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createStoreActivities } from '../activities/storeActivities.js';
import type { Database } from '../core/store/database.js';
import { workflowBundle } from './workflowBundle.js';
import { dataConverter } from '../core/temporal/compressionCodec.js';
import { livePollers } from '../core/rate/fleet.js';
import { describeEndpointQueue } from './endpointWorker.js';

/** How often a store activity tells Temporal its owner is alive (the workflows' store heartbeatTimeout is 10 s). */
const STORE_HEARTBEAT_MS = 2000;

/**
 * Store activities heartbeat while they run (a landing may wait behind a group commit): when the
 * state server dies, Temporal retries its activities on the replacement after the heartbeat
 * timeout (10 s), not after their 5-minute start-to-close timeout.
 */
function heartbeating<T extends object>(activities: T): T {
  return Object.fromEntries(Object.entries(activities).map(([name, fn]) => [name, async (...args: unknown[]) => {
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat(), STORE_HEARTBEAT_MS);
    try {
      return await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
    } finally {
      clearInterval(beat);
    }
  }])) as T;
}

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
    activities: heartbeating(createStoreActivities({
      db: o.db, livePollers: async (queue) => livePollers(await describeEndpointQueue(o.connection.workflowService, o.namespace, queue)),
    })),
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
