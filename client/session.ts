import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import { Database } from '../core/store/database.js';
import { OpenAIProvider } from '../core/provider/openaiProvider.js';
import type { ChatProvider } from '../core/provider/provider.js';
import { endpointIsOffline, stateDir, temporalConfig, type EndpointConfig } from '../core/config.js';
import { startOfflineServer, type OfflineServer } from '../offline/server.js';
import { startWorkers, type RunningWorkers } from '../worker/createWorkers.js';
import { ensureDevServer, type DevServer } from './temporalServer.js';

export interface SessionOptions {
  db: Database;
  judge: EndpointConfig;
  model: EndpointConfig;
  /** Run the workers in this process (the embedded default). */
  inProcessWorker: boolean;
  judgeConcurrency?: number;
  modelConcurrency?: number;
  judgeRps?: number;
  modelRps?: number;
  log: (s: string) => void;
}

export interface Session {
  client: Client;
  taskQueue: string;
  uiUrl?: string;
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
 * Providers for both roles; an endpoint without key and base URL is the offline server,
 * started once in this process and shared by both roles.
 */
export async function buildProviders(judge: EndpointConfig, model: EndpointConfig): Promise<{
  judge: ChatProvider; model: ChatProvider; offline?: OfflineServer;
}> {
  let offline: OfflineServer | undefined;
  const make = async (e: EndpointConfig): Promise<ChatProvider> => {
    if (endpointIsOffline(e)) {
      offline ??= await startOfflineServer({ seed: Number(process.env.FLASK_OFFLINE_SEED ?? 0), latencyMs: Number(process.env.FLASK_OFFLINE_LATENCY_MS ?? 0) });
      return new OpenAIProvider({ apiKey: 'offline', baseURL: offline.url });
    }
    // A local server (vLLM, Ollama) often needs no key; the SDK insists on one.
    return new OpenAIProvider({ apiKey: e.apiKey ?? 'no-key', baseURL: e.baseURL });
  };
  return { judge: await make(judge), model: await make(model), offline };
}

/** Connect to Temporal (embedded dev server unless TEMPORAL_ADDRESS is set) and start workers if asked. */
export async function openSession(o: SessionOptions): Promise<Session> {
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

  let workers: RunningWorkers | undefined;
  let offline: OfflineServer | undefined;
  let nativeConnection: NativeConnection | undefined;
  if (o.inProcessWorker) {
    const providers = await buildProviders(o.judge, o.model);
    offline = providers.offline;
    nativeConnection = await NativeConnection.connect({ address });
    workers = await startWorkers({
      connection: nativeConnection, namespace: cfg.namespace, taskQueue: cfg.taskQueue,
      deps: { db: o.db, judge: providers.judge, model: providers.model },
      judgeConcurrency: o.judgeConcurrency ?? 8, modelConcurrency: o.modelConcurrency ?? 8,
      judgeRps: o.judgeRps, modelRps: o.modelRps,
    });
  }
  return {
    client,
    taskQueue: cfg.taskQueue,
    uiUrl: server?.uiUrl,
    async close() {
      await workers?.shutdown();
      await nativeConnection?.close();
      await connection.close();
      await offline?.close();
      if (server?.owned) await server.stop();
    },
  };
}
