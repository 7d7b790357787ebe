import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import type { PrepareRunRequest, PrepareRunResult } from '../core/store/prepareRun.js';
import { temporalConfig } from '../core/config.js';
import type { EndpointLimits } from '../core/rate/index.js';
import { livePollerWindowFor } from '../core/rate/fleet.js';
import { startEndpointWorker, type EndpointWorker } from '../worker/endpointWorker.js';
import { closeOfflineServer, type ServedEndpoint } from './endpoints.js';
import { attachStateServer } from '../server/attach.js';
import { dataConverter } from '../core/temporal/compressionCodec.js';

export interface Session {
  client: Client;
  namespace: string;
  controlQueue: string;
  uiUrl?: string;
  /** The results file, owned by the state server. */
  dbFile: string;
  /** Record a run and land its inputs, through the process that owns the results file. */
  prepareRun(req: PrepareRunRequest): Promise<PrepareRunResult>;
  /** Serve these endpoints' task queues from this process (the embedded worker). */
  serve(endpoints: Array<{ endpoint: ServedEndpoint; limits: EndpointLimits }>): Promise<EndpointWorker[]>;
  close(): Promise<void>;
}

let runtimeInstalled = false;

/** Keep the SDK's own logs off the user's terminal (the progress line lives there; outages are reported once). */
export function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  // No shutdownSignals: the SDK's default hook catches SIGINT to drain its workers and leaves the
  // process running, so Ctrl-C did nothing. Commands own their signals (a run says how to resume
  // and exits 130; `worker` shuts its workers down itself).
  Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [], telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
  runtimeInstalled = true;
}

/**
 * Attach to this state folder's state server (started in the background if needed): it runs
 * Temporal (the embedded dev server, unless TEMPORAL_ADDRESS is set), owns the results file and
 * runs the workflows. This process only serves its own endpoints and follows the run; when it
 * ends, the server stays for other commands and stops itself once idle.
 */
export async function openSession(o: { dbFile?: string; log: (s: string) => void }): Promise<Session> {
  installQuietRuntime();
  const attached = await attachStateServer({ log: o.log, ...(o.dbFile ? { dbFile: o.dbFile } : {}) });
  o.log(`Temporal: ${attached.temporalAddress}, namespace ${attached.namespace}${attached.uiUrl ? `; UI at ${attached.uiUrl}` : ''}; results in ${attached.dbFile}`);
  const connection = await Connection.connect({ address: attached.temporalAddress });
  const client = new Client({ connection, namespace: attached.namespace, dataConverter });
  const native = await NativeConnection.connect({ address: attached.temporalAddress });
  const workers: EndpointWorker[] = [];
  return {
    client,
    namespace: attached.namespace,
    controlQueue: temporalConfig().taskQueue,
    uiUrl: attached.uiUrl,
    dbFile: attached.dbFile,
    prepareRun: (req) => attached.store.prepareRun(req),
    async serve(endpoints) {
      const started = await Promise.all(
        endpoints.map(({ endpoint, limits }) =>
          startEndpointWorker({ connection: native, namespace: attached.namespace, endpoint: endpoint.ref, provider: endpoint.provider, limits, client, livePollerMs: livePollerWindowFor(temporalConfig().address) }),
        ),
      );
      workers.push(...started);
      return started;
    },
    async close() {
      await Promise.all(workers.map((w) => w.shutdown()));
      await native.close();
      await connection.close();
      await closeOfflineServer();
      await attached.release();
    },
  };
}
