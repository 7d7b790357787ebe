import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Database } from '../core/store/database.js';
import { startStoreRole } from '../worker/storeWorker.js';
import type { FileHolder } from './serverInfo.js';

/**
 * What the state server's background loops share: each loop reads it and ends when `halting`
 * is set (by the first stop request) or `stopped` resolves.
 */
export interface DaemonState {
  halting: boolean;
  readonly stopped: Promise<void>;
  temporalUp: boolean;
  storeReady: boolean;
  leaseCount: number;
  /** A spawning command has the idle time, from start, to take its lease. */
  lastLeaseAt: number;
  autoStarted: boolean;
  /** Another process holds the results file open: the owner waits for it (shown in /health). */
  fileHeldBy?: FileHolder;
}


type Log = (s: string) => void;
type StoreRole = Awaited<ReturnType<typeof startStoreRole>>;

/** Is Temporal answering? Sets `temporalUp` every second (drives /health and the store role's restarts). */
export async function watchTemporal(state: DaemonState, connection: Connection, address: string, log: Log): Promise<void> {
  const probe = async (): Promise<boolean> => {
    try {
      await connection.withDeadline(Date.now() + 2000, () => connection.workflowService.getSystemInfo({}));
      return true;
    } catch {
      return false;
    }
  };
  let wasUp: boolean | undefined;
  while (!state.halting) {
    state.temporalUp = await probe();
    if (wasUp !== state.temporalUp && (wasUp !== undefined || !state.temporalUp)) log(state.temporalUp ? 'Temporal answers again' : `Temporal at ${address} does not answer`);
    wasUp = state.temporalUp;
    await Promise.race([sleep(1000), state.stopped]);
  }
}

/**
 * The store role (workflow worker + the activities that touch the results file), started
 * whenever Temporal answers and it is not running, with backoff after a failure. Resolves after
 * the stop, having shut down what it started.
 */
export async function keepStoreRole(
  state: DaemonState,
  o: { address: string; namespace: string; controlQueue: string; db: Database; startedAt: number },
  log: Log,
): Promise<void> {
  let delay = 500;
  let store: StoreRole | undefined;
  let connection: NativeConnection | undefined;
  const release = async (): Promise<void> => {
    state.storeReady = false;
    await store?.shutdown().catch((e: Error) => log(`store role shutdown: ${e.message}`));
    store = undefined;
    await connection?.close().catch(() => undefined);
    connection = undefined;
  };
  while (!state.halting) {
    if (!state.temporalUp) {
      await Promise.race([sleep(500), state.stopped]);
      continue;
    }
    try {
      connection = await NativeConnection.connect({ address: o.address });
      store = await startStoreRole({ connection, namespace: o.namespace, controlQueue: o.controlQueue, db: o.db });
      state.storeReady = true;
      log(`store role polling ${o.controlQueue} (ready ${Date.now() - o.startedAt} ms after the dev server)`);
      delay = 500;
      await Promise.race([store.done, state.stopped]);
      if (state.halting) break;
      log('store role stopped on its own; restarting it');
    } catch (e) {
      if (state.halting) break;
      log(`store role failed: ${(e as Error).message}; retrying in ${delay / 1000}s`);
    }
    await release();
    await Promise.race([sleep(delay), state.stopped]);
    delay = Math.min(delay * 2, 15_000);
  }
  await release();
}

/**
 * An auto-started daemon stops when nobody needs it: no lease for idleMs and no run running
 * on its control queue. While Temporal is unreachable a run may be in flight, so it stays up,
 * but not more than 10 minutes for nothing.
 */
export async function stopWhenIdle(
  state: DaemonState,
  o: { client: Client; connection: Connection; controlQueue: string; idleMs: number; requestStop: (why: string) => void },
  log: Log,
): Promise<void> {
  if (!state.autoStarted) return;
  const runningQuery = `WorkflowType = 'runWorkflow' AND ExecutionStatus = 'Running' AND TaskQueue = '${o.controlQueue.replace(/'/g, "''")}'`;
  let unreachableSince: number | undefined;
  let reportedRunning = -1;
  while (!state.halting) {
    await Promise.race([sleep(Math.min(1000, o.idleMs / 4)), state.stopped]);
    if (state.halting || !state.autoStarted) break;
    if (state.leaseCount > 0 || Date.now() - state.lastLeaseAt < o.idleMs) continue;
    try {
      const { count } = await o.connection.withDeadline(Date.now() + 5000, () => o.client.workflow.count(runningQuery));
      unreachableSince = undefined;
      if (count === 0) {
        o.requestStop(`idle: no lease for ${Math.round((Date.now() - state.lastLeaseAt) / 1000)}s and no run running`);
        break;
      }
      if (count !== reportedRunning) log(`no lease, but ${count} run(s) still running: staying up`);
      reportedRunning = count;
    } catch (e) {
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > 10 * 60_000) {
        o.requestStop(`idle, and Temporal unreachable for 10 minutes (${(e as Error).message})`);
        break;
      }
    }
  }
}
