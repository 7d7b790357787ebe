import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { InputError } from '../../core/errors.js';
import { temporalConfig, type EndpointConfig } from '../../core/config.js';
import { describeEndpoint, type EndpointRef } from '../../core/provider/endpoint.js';
import { identityBase, livePollerCount } from '../../core/rate/fleet.js';
import { describeEndpointQueue, startEndpointWorker, type EndpointWorker } from '../../worker/endpointWorker.js';
import { installQuietRuntime } from '../session.js';
import { closeOfflineServer, endpointRefOf, preflight, serveEndpoint } from '../endpoints.js';
import { endpointLimitsFromFlags, judgeFromFlags, keyHelp, modelFromFlags } from '../flags.js';
import { dataConverter } from '../../core/temporal/compressionCodec.js';
import { workerTemporal } from '../workerTemporal.js';

export const WORKER_HELP = `flask-eval worker [--role judge|model|both] [endpoint flags] [--judge-rpm N --judge-tpm N --model-rpm N --model-tpm N --max-concurrency N --request-timeout S] [--check]
  An endpoint worker for TEMPORAL_ADDRESS (unset: the embedded Temporal of this folder's state
  server, found by itself; FLASK_STATE_DIR names another folder's): it polls only the task queues of the endpoints it is
  configured with, so it serves exactly the runs bound to them. It needs no results file and no
  dataset: start as many as you like, on any host. Rate limits are per endpoint and fleet-wide:
  workers of one endpoint divide them.
  --check             with the same role and endpoint settings: exit 0 if a worker of this host
                      (Temporal identity pid@hostname) polled each of those endpoint queues in the
                      last 70 s, 1 if not (a container healthcheck: one container, one hostname)
  Judge: --judge-base-url / OPENAI_BASE_URL, --judge-api-key / OPENAI_API_KEY, --judge-model / FLASK_JUDGE_MODEL
  Model: --model-base-url / FLASK_MODEL_BASE_URL, --model-api-key / FLASK_MODEL_API_KEY, --model-name / FLASK_MODEL_NAME
  (no key and no URL: the offline server, SIMULATED).
${keyHelp(true)}`;

export async function workerCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      role: { type: 'string' },
      'judge-base-url': { type: 'string' }, 'judge-api-key': { type: 'string' }, 'judge-api-key-file': { type: 'string' }, 'judge-model': { type: 'string' },
      'model-base-url': { type: 'string' }, 'model-api-key': { type: 'string' }, 'model-api-key-file': { type: 'string' }, 'model-name': { type: 'string' },
      'judge-rpm': { type: 'string' }, 'judge-tpm': { type: 'string' }, 'model-rpm': { type: 'string' }, 'model-tpm': { type: 'string' },
      'judge-rps': { type: 'string' }, 'model-rps': { type: 'string' }, 'max-concurrency': { type: 'string' },
      'judge-concurrency': { type: 'string' }, 'model-concurrency': { type: 'string' }, db: { type: 'string' },
      check: { type: 'boolean', default: false },
      'request-timeout': { type: 'string' }, 'judge-request-timeout': { type: 'string' }, 'model-request-timeout': { type: 'string' },
    },
  });
  const cfg = await workerTemporal(temporalConfig(), log);
  const role = (v.role as string | undefined) ?? 'both';
  if (!['judge', 'model', 'both'].includes(role)) throw new InputError(`--role must be judge, model or both (got "${role}")`);
  installQuietRuntime();
  const wanted: Array<{ role: 'judge' | 'model'; config: EndpointConfig }> = [];
  if (role !== 'model') wanted.push({ role: 'judge', config: judgeFromFlags(v, log) });
  const model = modelFromFlags(v, log);
  if (role !== 'judge' && model.model) wanted.push({ role: 'model', config: model });
  if (v.check) return checkPolling(cfg.address, cfg.namespace, wanted.map((w) => endpointRefOf(w.config, cfg.taskQueue)), log);
  const limits = { judge: endpointLimitsFromFlags(v, 'judge', log), model: endpointLimitsFromFlags(v, 'model', log) };
  const connection = await NativeConnection.connect({ address: cfg.address });
  const clientConnection = await Connection.connect({ address: cfg.address });
  const client = new Client({ connection: clientConnection, namespace: cfg.namespace, dataConverter });
  const workers: EndpointWorker[] = [];
  for (const { role: r, config } of wanted) {
    const ep = await preflight(r, await serveEndpoint(config, cfg.taskQueue), limits[r].requestTimeoutMs, log);
    workers.push(await startEndpointWorker({
      connection, namespace: cfg.namespace, endpoint: ep.ref, provider: ep.provider, client,
      limits: limits[r],
    }));
    log(`serving ${r} endpoint ${describeEndpoint(ep.ref)}${ep.simulated ? ' [SIMULATED]' : ''}: task queue ${ep.ref.queue}`);
  }
  log(`worker ready: ${cfg.address} namespace ${cfg.namespace}`);
  const stop = () => void Promise.all(workers.map((w) => w.shutdown()));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await Promise.all(workers.map((w) => w.done));
  await clientConnection.close();
  await connection.close();
  await closeOfflineServer();
}

/**
 * `worker --check`: is a worker of this host polling each of these endpoint queues? Temporal names
 * a worker `pid@hostname`; a container has a hostname of its own, so this tests its own worker.
 */
async function checkPolling(address: string, namespace: string, refs: EndpointRef[], log: (s: string) => void): Promise<void> {
  const host = hostname();
  const connection = await Connection.connect({ address, connectTimeout: 5000 });
  try {
    for (const ref of refs) {
      const res = await connection.withDeadline(Date.now() + 5000, () => describeEndpointQueue(connection.workflowService, namespace, ref.queue));
      const pollers = res.pollers ?? [];
      const ours = livePollerCount({ pollers: pollers.filter((p) => identityBase(p.identity ?? '').endsWith(`@${host}`)) });
      if (ours === 0) {
        throw new WorkerNotPolling(`no worker of this host (${host}) polls ${ref.queue}, the queue of ${describeEndpoint(ref)} (${livePollerCount(res)} live poller(s) of other hosts)`);
      }
      log(`ok: ${ours} worker(s) of ${host} poll ${ref.queue} (${describeEndpoint(ref)})`);
    }
  } finally {
    await connection.close();
  }
}

/** Not the user's input: exit status 1, message without a stack trace. */
class WorkerNotPolling extends Error {
  readonly exitStatus = 1;
  constructor(message: string) {
    super(message);
    this.name = 'WorkerNotPolling';
  }
}
