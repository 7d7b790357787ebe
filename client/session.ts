import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import type { Database } from '../core/store/database.js';
import { prepareRun, type PrepareRunRequest, type PrepareRunResult } from '../core/store/prepareRun.js';
import { stateDir, temporalConfig } from '../core/config.js';
import type { RateLimits } from '../core/rate/limiter.js';
import { startStoreRole, type StoreRole } from '../worker/storeWorker.js';
import { startEndpointWorker, type EndpointWorker } from '../worker/endpointWorker.js';
import { closeOfflineServer, type ServedEndpoint } from './endpoints.js';
import { ensureDevServer, type DevServer } from './temporalServer.js';

export interface Session {
  client: Client;
  namespace: string;
  controlQueue: string;
  uiUrl?: string;
  /** Record a run and land its inputs, through the process that owns the results file. */
  prepareRun(req: PrepareRunRequest): Promise<PrepareRunResult>;
  /** Serve these endpoints' task queues from this process (the embedded worker). */
  serve(endpoints: Array<{ endpoint: ServedEndpoint; limits: RateLimits }>): Promise<EndpointWorker[]>;
  close(): Promise<void>;
}

let runtimeInstalled = false;

/** Keep the SDK's own info logs off the user's terminal (the progress bar lives there). */
export function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  runtimeInstalled = true;
}

/**
 * Connect to Temporal (the embedded dev server unless TEMPORAL_ADDRESS is set) with this
 * process as the store: it owns the results file and runs the workflows and store activities.
 */
export async function openSession(o: { db: Database; log: (s: string) => void }): Promise<Session> {
  installQuietRuntime();
  const cfg = temporalConfig();
  let server: DevServer | undefined;
  let address = cfg.address;
  if (!address) {
    server = await ensureDevServer({ stateDir: stateDir(), log: o.log });
    address = server.address;
    o.log(`Temporal: embedded dev server at ${address} (state in ${stateDir()}); UI at ${server.uiUrl}`);
  } else {
    o.log(`Temporal: ${address}, namespace ${cfg.namespace}`);
  }
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: cfg.namespace });
  const native = await NativeConnection.connect({ address });
  const store: StoreRole = await startStoreRole({ connection: native, namespace: cfg.namespace, controlQueue: cfg.taskQueue, db: o.db });
  const workers: EndpointWorker[] = [];
  return {
    client,
    namespace: cfg.namespace,
    controlQueue: cfg.taskQueue,
    uiUrl: server?.uiUrl,
    prepareRun: (req) => prepareRun(o.db, req),
    async serve(endpoints) {
      const started = await Promise.all(
        endpoints.map(({ endpoint, limits }) =>
          startEndpointWorker({ connection: native, namespace: cfg.namespace, endpoint: endpoint.ref, provider: endpoint.provider, limits, client }),
        ),
      );
      workers.push(...started);
      return started;
    },
    async close() {
      await Promise.all(workers.map((w) => w.shutdown()));
      await store.shutdown();
      await native.close();
      await connection.close();
      await closeOfflineServer();
      if (server?.owned) await server.stop();
    },
  };
}
