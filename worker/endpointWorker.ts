import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createEndpointActivities } from '../activities/callChunk.js';
import { EndpointStats } from '../activities/endpointStats.js';
import type { EndpointRef } from '../core/provider/endpoint.js';
import type { ChatProvider } from '../core/provider/provider.js';
import { dataConverter } from '../core/temporal/compressionCodec.js';
import { createEndpointLimiter, fleetSizeFromPollers, type EndpointLimiter, type EndpointLimits } from '../core/rate/index.js';
import { mergedPollers, taskQueuePartitionNames, workerIdentity, type DescribeTaskQueueLike } from '../core/rate/fleet.js';
import { tokenCounter, tokenizerFor } from '../core/cost/tokens.js';
import { hostname } from 'node:os';

export interface EndpointWorker {
  endpoint: EndpointRef;
  limiter: EndpointLimiter;
  stats: EndpointStats;
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** How often a worker counts the workers of its endpoint (to take its share of the limit). */
const FLEET_REFRESH_MS = 10_000;

/**
 * A worker for one endpoint: polls only that endpoint's task queue, so it never runs another
 * endpoint's calls. Chunk activities are many (each waits on the limiter per call); the limiter
 * decides how many calls are really in flight, and divides the endpoint's fleet-wide limits by
 * the number of workers polling the queue.
 */
export async function startEndpointWorker(o: {
  connection: NativeConnection;
  namespace: string;
  endpoint: EndpointRef;
  provider: ChatProvider;
  limits: EndpointLimits;
  /** For counting the endpoint's workers (fleet-wide limits); none: this worker takes all of it. */
  client?: Client;
  /** How recently a worker must have polled to count (core/rate/fleet.ts livePollerWindowFor); default 70 s. */
  livePollerMs?: number;
  backoffMs?: (failures: number) => number;
}): Promise<EndpointWorker> {
  // A concurrency the user gave is where the limiter starts (it still halves on 429s); without
  // one, adaptive control starts low and grows.
  const limiter = createEndpointLimiter({ ...o.limits, initialConcurrency: o.limits.initialConcurrency ?? o.limits.maxConcurrency });
  const stats = new EndpointStats();
  // Every call is counted with the endpoint's BPE encoder (for the limiter), and building one costs
  // ~0.3 s of CPU: built here, before the worker polls, not by its first chunk's calls. Eight
  // workers started together on 2 cores spent their first 4-5 s of a run building it, no call
  // sent (bench/fleet-scale.ts --trace, with worker CPU profiles).
  await tokenCounter(tokenizerFor(o.endpoint.model).encoding);
  const worker = await Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.endpoint.queue,
    // Its concurrency in its name: the batches that send it chunks size them for it (core/rate/fleet.ts).
    identity: workerIdentity(`${process.pid}@${hostname()}`, o.limits.maxConcurrency),
    dataConverter,
    activities: createEndpointActivities({ endpoint: o.endpoint, provider: o.provider, limiter, stats, backoffMs: o.backoffMs, requestTimeoutMs: o.limits.requestTimeoutMs }),
    // Chunks this worker takes at once. With a concurrency cap, only enough to keep its calls
    // busy: a worker that grabbed every chunk would leave the other workers of the endpoint idle
    // (and lose more finished work if it died). Adaptive: room for the limiter to grow.
    maxConcurrentActivityTaskExecutions: o.limits.maxConcurrency ? Math.max(2, Math.ceil(o.limits.maxConcurrency / 4)) : 64,
    // Heartbeats carry each chunk's finished results: send them every second, so a crash loses
    // at most the calls in flight and those answered in the last second.
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
  });
  const done = worker.run();
  let fleetTimer: NodeJS.Timeout | undefined;
  if (o.client && (o.limits.rpm || o.limits.tpm)) {
    const client = o.client;
    const refresh = async () => {
      try {
        limiter.setFleetSize(await countEndpointWorkers(client, o.namespace, o.endpoint.queue, o.livePollerMs));
      } catch {
        // Temporal briefly unreachable: keep the last share.
      }
    };
    void refresh();
    fleetTimer = setInterval(() => void refresh(), FLEET_REFRESH_MS);
    fleetTimer.unref();
  }
  return {
    endpoint: o.endpoint, limiter, stats, done,
    async shutdown() {
      if (fleetTimer) clearInterval(fleetTimer);
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

/** Workers that polled the queue lately (core/rate/fleet.ts says what counts as live). */
async function countEndpointWorkers(client: Client, namespace: string, queue: string, livePollerMs?: number): Promise<number> {
  return fleetSizeFromPollers(await describeEndpointQueue(client.workflowService, namespace, queue), Date.now(), livePollerMs);
}

/** The pollers of an endpoint queue, from each of its partitions (core/rate/fleet.ts says why);
 *  endpoint queues carry activities only. */
export async function describeEndpointQueue(service: Client['workflowService'], namespace: string, queue: string): Promise<DescribeTaskQueueLike> {
  return mergedPollers(await Promise.all(taskQueuePartitionNames(queue).map((name) => service.describeTaskQueue({
    namespace,
    taskQueue: { name, kind: 1 }, // TASK_QUEUE_KIND_NORMAL
    taskQueueType: 2, // TASK_QUEUE_TYPE_ACTIVITY
  }))));
}
