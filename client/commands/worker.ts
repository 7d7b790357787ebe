import { parseArgs } from 'node:util';
import { NativeConnection } from '@temporalio/worker';
import { InputError } from '../../core/errors.js';
import { temporalConfig } from '../../core/config.js';
import { startWorkers } from '../../worker/createWorkers.js';
import { buildProviders, installQuietRuntime } from '../session.js';
import { intFlag, judgeFromFlags, modelFromFlags, numFlag, openDb } from '../flags.js';

export const WORKER_HELP = `flask-eval worker [--judge-concurrency N] [--model-concurrency N] [--judge-rps R] [--model-rps R] [--db FILE]
  Run workers against TEMPORAL_ADDRESS (scale out by starting more). Endpoints and keys come
  from this process's environment: OPENAI_API_KEY / OPENAI_BASE_URL for the judge,
  FLASK_MODEL_API_KEY / FLASK_MODEL_BASE_URL for the evaluated model (none: offline, simulated).`;

export async function workerCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      db: { type: 'string' }, 'judge-concurrency': { type: 'string' }, 'model-concurrency': { type: 'string' },
      'judge-rps': { type: 'string' }, 'model-rps': { type: 'string' }, 'judge-base-url': { type: 'string' }, 'model-base-url': { type: 'string' },
    },
  });
  const cfg = temporalConfig();
  if (!cfg.address) throw new InputError('flask-eval worker needs TEMPORAL_ADDRESS (host:port of your Temporal cluster); without it, run commands embed their own worker');
  installQuietRuntime();
  const db = openDb(v);
  const providers = await buildProviders(judgeFromFlags(v), modelFromFlags(v));
  const connection = await NativeConnection.connect({ address: cfg.address });
  const workers = await startWorkers({
    connection, namespace: cfg.namespace, taskQueue: cfg.taskQueue, deps: { db, judge: providers.judge, model: providers.model },
    judgeConcurrency: intFlag(v, 'judge-concurrency', 8), modelConcurrency: intFlag(v, 'model-concurrency', 8),
    judgeRps: numFlag(v, 'judge-rps'), modelRps: numFlag(v, 'model-rps'),
  });
  log(`worker ready: ${cfg.address} namespace ${cfg.namespace} task queue ${cfg.taskQueue}; results in ${db.file}${providers.offline ? `; offline (SIMULATED) endpoint ${providers.offline.url}` : ''}`);
  const stop = () => void workers.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await workers.done;
  await connection.close();
  await providers.offline?.close();
}
