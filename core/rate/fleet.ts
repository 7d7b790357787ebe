/**
 * Fleet size of an endpoint = the workers polling its task queue. The caller asks Temporal:
 *
 *   const r = await client.workflowService.describeTaskQueue({
 *     namespace, taskQueue: { name: endpointQueue, kind: TaskQueueKind.NORMAL },
 *     taskQueueType: TaskQueueType.ACTIVITY,     // endpoint queues carry activities only
 *   });
 *   limiter.setFleetSize(fleetSizeFromPollers(r));
 *
 * A poller stays listed for a while after its worker stopped; only those seen within the long
 * poll plus 10 s count (the server refreshes lastAccessTime on every poll, and an idle worker polls
 * again when its long poll expires: 60 s by default, so 70 s). The embedded dev server is started
 * with a 10 s long poll (server/temporalDevServer.ts), so a worker that exited stops counting
 * after 20 s, not after up to 70 s during which back-to-back commands shared the limit with it.
 */

/** google.protobuf.Timestamp as the SDK decodes it (seconds may be a Long). */
interface TimestampLike {
  seconds?: number | string | { toNumber(): number } | null;
  nanos?: number | null;
}

interface PollerLike {
  identity?: string | null;
  lastAccessTime?: TimestampLike | null;
}

/** The part of temporal.api.workflowservice.v1.IDescribeTaskQueueResponse this reads. */
export interface DescribeTaskQueueLike {
  pollers?: readonly PollerLike[] | null;
}

/** matching.longPollExpirationInterval of the embedded dev server (Temporal's default: 60 s). */
export const EMBEDDED_LONG_POLL_SECONDS = 10;

/** How recently a poller must have polled to count as live, for a server whose long poll lasts `longPollSeconds`. */
function livePollerWindowMs(longPollSeconds = 60): number {
  return (longPollSeconds + 10) * 1000;
}

const LIVE_POLLER_MS = livePollerWindowMs();

/** The live window for the Temporal a process talks to: TEMPORAL_ADDRESS given, a cluster with Temporal's default; none, the embedded dev server. */
export function livePollerWindowFor(temporalAddress: string | undefined): number {
  return temporalAddress ? LIVE_POLLER_MS : livePollerWindowMs(EMBEDDED_LONG_POLL_SECONDS);
}

function millis(t: TimestampLike | null | undefined): number | undefined {
  if (!t || t.seconds === undefined || t.seconds === null) return undefined;
  const s = typeof t.seconds === 'object' ? t.seconds.toNumber() : Number(t.seconds);
  if (!Number.isFinite(s)) return undefined;
  return s * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/**
 * Temporal splits a task queue into partitions (matching.numTaskqueueReadPartitions: 4 unless the
 * server's dynamic config says otherwise; scripts/cluster.sh's does not); a worker's
 * pollers land on random ones, and DescribeTaskQueue lists only the pollers of the partition it
 * names, the root unless told. A worker whose pollers all sat on the other three went unseen until
 * they polled again (up to a long poll, 60 s on a cluster): 8 workers just started on the cluster
 * were counted as 6-7 for most of a minute. Counting asks every partition.
 */
const TASK_QUEUE_PARTITIONS = 4;

/** The names DescribeTaskQueue takes for a queue's partitions: the root is the queue's own name. */
export function taskQueuePartitionNames(queue: string, partitions = TASK_QUEUE_PARTITIONS): string[] {
  return [queue, ...Array.from({ length: Math.max(0, partitions - 1) }, (_, i) => `/_sys/${queue}/${i + 1}`)];
}

/** The pollers of all of a queue's partitions, as one response (livePollerCount counts an identity once). */
export function mergedPollers(partitions: readonly DescribeTaskQueueLike[]): DescribeTaskQueueLike {
  return { pollers: partitions.flatMap((r) => r.pollers ?? []) };
}

/**
 * An endpoint worker's poller identity: Temporal's usual `pid@host`, and ` c=N` when the worker
 * runs at most N calls at once (--max-concurrency), so a batch can size its chunks for the
 * workers it really has (core/fleetChunking.ts) without being told their concurrency.
 */
export function workerIdentity(pidAtHost: string, maxConcurrency?: number): string {
  return maxConcurrency ? `${pidAtHost} c=${maxConcurrency}` : pidAtHost;
}

const DECLARED = / c=(\d+)$/;

/** The `pid@host` part of a poller identity (without a declared concurrency). */
export function identityBase(identity: string): string {
  return identity.replace(DECLARED, '');
}

/** A live worker of a queue: its identity and, when it declared one, its concurrency. */
export interface LivePoller {
  identity: string;
  concurrency?: number;
}

/** Distinct pollers seen within `liveMs` of `now`: the workers polling the queue now. */
export function livePollers(response: DescribeTaskQueueLike, now = Date.now(), liveMs = LIVE_POLLER_MS): LivePoller[] {
  const live = new Map<string, LivePoller>();
  let anonymous = 0;
  for (const p of response.pollers ?? []) {
    const at = millis(p.lastAccessTime);
    if (at === undefined || now - at > liveMs) continue;
    if (!p.identity) {
      live.set(`anonymous ${anonymous++}`, { identity: '' });
      continue;
    }
    const c = DECLARED.exec(p.identity)?.[1];
    live.set(p.identity, { identity: p.identity, ...(c ? { concurrency: Number(c) } : {}) });
  }
  return [...live.values()];
}

/** How many workers poll the queue now (livePollers). */
export function livePollerCount(response: DescribeTaskQueueLike, now = Date.now(), liveMs = LIVE_POLLER_MS): number {
  return livePollers(response, now, liveMs).length;
}

/**
 * The fleet an endpoint worker shares its limits with: the live pollers, at least 1 (the caller
 * is a worker of this queue itself, and may ask before its own first poll is recorded).
 */
export function fleetSizeFromPollers(response: DescribeTaskQueueLike, now = Date.now(), liveMs = LIVE_POLLER_MS): number {
  return Math.max(1, livePollerCount(response, now, liveMs));
}
