import { after, before } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Database } from '../../core/store/database.js';
import { createOrMatchRun, type RunRecord } from '../../core/store/runs.js';
import { landInstances, landResponses, type ResponseRow } from '../../core/store/instances.js';
import type { EvalInstance } from '../../core/flask/dataset.js';
import { installQuietRuntime } from '../../client/session.js';
import { OpenAIProvider } from '../../core/provider/openaiProvider.js';
import { endpointRef } from '../../core/provider/endpoint.js';
import type { EndpointLimits } from '../../core/rate/index.js';
import { startStoreRole } from '../../worker/storeWorker.js';
import { startEndpointWorker } from '../../worker/endpointWorker.js';
import type { RunWorkflowInput, Step } from '../../core/pipeline.js';
import { chooseDevServerPort } from '../../server/temporalDevServer.js';

/** The real Temporal dev server (the official CLI), started by the SDK's testing package. */
export async function startTemporal(): Promise<TestWorkflowEnvironment> {
  installQuietRuntime();
  const cli = process.env.TEMPORAL_CLI;
  if (!cli) throw new Error('TEMPORAL_CLI is not set: run the tests with `npm test` (it installs the Temporal CLI)');
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: cli }, ip: '127.0.0.1', log: { format: 'pretty', level: 'error' } },
  });
}

export function tempDb(name: string): Database {
  return new Database(path.join(mkdtempSync(path.join(tmpdir(), `flask-${name}-`)), 'results.duckdb'));
}

let queueCounter = 0;
/** A task queue of its own for each test, so workers of different tests never share work. */
export function uniqueQueue(name: string): string {
  return `test-${name}-${process.pid}-${++queueCounter}`;
}

export function baseRun(runId: string, kind: RunRecord['kind'] = 'review'): RunRecord {
  return {
    runId, kind, simulated: true, datasetPath: null, datasetSha256: null, answersPath: null, answersSha256: null,
    modelId: 'flask-offline-model', modelEndpoint: 'offline', modelSettings: { temperature: 0.7, maxTokens: 1024 },
    judgeModel: 'flask-offline-judge', judgeEndpoint: 'offline', judgeSettings: { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3 },
    promptTemplateSha256: null, projectVersion: 'test', summary: { skillShuffleSeed: 7 },
  };
}

export async function landRun(db: Database, run: RunRecord, instances: readonly EvalInstance[], responses: readonly ResponseRow[] = []): Promise<void> {
  await db.run(async (sql) => {
    await createOrMatchRun(sql, run);
    await landInstances(sql, run.runId, instances);
    if (responses.length) await landResponses(sql, run.runId, responses);
  });
}

export async function counts(db: Database, runId: string): Promise<Record<string, number>> {
  const r = await db.run((sql) =>
    sql.one(
      `SELECT
        (SELECT count(*) FROM instances WHERE run_id = $1)::INT AS instances,
        (SELECT count(*) FROM responses WHERE run_id = $1)::INT AS responses,
        (SELECT count(*) FROM reviews WHERE run_id = $1)::INT AS reviews,
        (SELECT count(DISTINCT idx) FROM reviews WHERE run_id = $1)::INT AS distinct_reviews,
        (SELECT count(*) FROM reviews WHERE run_id = $1 AND status = 'scored')::INT AS scored,
        (SELECT count(*) FROM reviews WHERE run_id = $1 AND status = 'failed')::INT AS failed,
        (SELECT count(*) FROM review_scores WHERE run_id = $1)::INT AS scores,
        (SELECT coalesce(sum(len(i.skills)), 0) FROM instances i JOIN reviews v USING (run_id, idx) WHERE run_id = $1 AND v.status = 'scored')::INT AS expected_scores,
        (SELECT count(*) FROM annotations WHERE run_id = $1)::INT AS annotations`,
      [runId],
    ),
  );
  return r as Record<string, number>;
}

import { setTimeout as sleep } from 'node:timers/promises';
export { sleep };

/** A free port for a state server's dev server, away from other tests' (retried while taken). */
export async function freeDevServerPort(): Promise<number> {
  for (;;) {
    try {
      return await chooseDevServerPort(20_000 + Math.floor(Math.random() * 11_000));
    } catch { /* taken */ }
  }
}

/** Poll until `check` holds (bounded, so a broken run fails the test instead of hanging). */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * The pipeline's workers for one test: the store role (workflows + store activities, owning
 * `db`) and one endpoint worker each for the offline judge and model at `url`, on queues of
 * the test's own.
 */
export async function startTestPipeline(
  env: TestWorkflowEnvironment,
  db: Database,
  name: string,
  url: string,
  opts: { limits?: EndpointLimits; endpointWorkers?: boolean; backoffMs?: (n: number) => number } = {},
) {
  const controlQueue = uniqueQueue(name);
  const judge = endpointRef(url, 'flask-offline-judge', controlQueue);
  const model = endpointRef(url, 'flask-offline-model', controlQueue);
  const provider = new OpenAIProvider({ apiKey: 'test-key', baseURL: url });
  const store = await startStoreRole({ connection: env.nativeConnection, namespace: 'default', controlQueue, db });
  const endpointWorkers =
    opts.endpointWorkers === false
      ? []
      : await Promise.all(
          [judge, model].map((ref) =>
            startEndpointWorker({
              connection: env.nativeConnection, namespace: 'default', endpoint: ref, provider, limits: opts.limits ?? { maxConcurrency: 4 },
              backoffMs: opts.backoffMs ?? ((n) => 100 * n),
            }),
          ),
        );
  const plan = (runId: string, steps: Step[], extra: Partial<RunWorkflowInput> = {}): RunWorkflowInput => ({
    runId, steps, controlQueue, judge, model,
    judgeSettings: { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3 }, modelSettings: { temperature: 0.7, maxTokens: 1024 },
    chunkSize: 4, concurrency: 8, batchSize: 12, maxAttempts: 8, shuffleSeed: 7, heartbeatTimeoutMs: 10_000, ...extra,
  });
  return {
    controlQueue, judge, model, plan, endpointWorkers,
    async shutdown() {
      await Promise.all(endpointWorkers.map((w) => w.shutdown()));
      await store.shutdown();
    },
  };
}

/**
 * The dev server for one test file, and the list of things to stop after its tests (workers,
 * servers), run even when a test fails: `const cleanups = temporalForThisFile((e) => (env = e));`
 */
export function temporalForThisFile(set: (env: TestWorkflowEnvironment) => void): Array<() => Promise<void>> {
  const cleanups: Array<() => Promise<void>> = [];
  let env: TestWorkflowEnvironment | undefined;
  before(async () => {
    env = await startTemporal();
    set(env);
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await env?.teardown();
  });
  return cleanups;
}
