// Workers need nothing but Temporal: an endpoint worker started from the compiled app in a
// folder without data/ (as on another host, or a container without the data folder) judges a
// run, because the prompt texts travel in each chunk's input.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer } from '../../simulator/server.js';
import { loadEvalSet } from '../../core/flask/dataset.js';
import { DATA_FILES } from '../../core/paths.js';
import { startOrAttach } from '../../client/runs.js';
import { baseRun, counts, landRun, startTestPipeline, tempDb, temporalForThisFile, waitFor } from '../helpers/harness.js';
import { appCli, compiledCopyWithoutData, dataOrResultsIn } from '../helpers/compiledCopy.js';

let env: TestWorkflowEnvironment;
const cleanups = temporalForThisFile((e) => (env = e));
let app: string;
before(async () => {
  app = await compiledCopyWithoutData('no-data');
});

/** `flask-eval worker --role judge` of the compiled copy, run from that folder; resolves once it polls. */
async function startCopyWorker(queueBase: string, judgeUrl: string, maxConcurrency: number): Promise<{ proc: ChildProcess; log: () => string }> {
  let log = '';
  const proc = spawn(process.execPath, [appCli(app), 'worker', '--role', 'judge', '--max-concurrency', String(maxConcurrency)], {
    cwd: app,
    env: {
      ...process.env, TEMPORAL_ADDRESS: env.address, FLASK_TASK_QUEUE: queueBase,
      OPENAI_BASE_URL: judgeUrl, OPENAI_API_KEY: 'test-key', FLASK_JUDGE_MODEL: 'flask-offline-judge', FLASK_STATE_DIR: path.join(app, '.state'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  cleanups.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
  });
  await waitFor('the worker to poll', async () => /worker ready/.test(log) || proc.exitCode !== null, 90_000);
  return { proc, log: () => log };
}

test('a worker whose folder has no data/ judges a whole run: the prompts come in the activity input', async () => {
  assert.deepEqual(dataOrResultsIn(app), [], 'the app folder has no data/ and no results file');
  const server = await startOfflineServer({ seed: 21 });
  cleanups.push(() => server.close());
  const db = tempDb('no-data');
  const pipeline = await startTestPipeline(env, db, 'no-data', server.url, { endpointWorkers: false });
  cleanups.push(() => pipeline.shutdown());

  // The real CLI of the compiled copy, run from that folder: `flask-eval worker` for the judge only.
  const worker = await startCopyWorker(pipeline.controlQueue, server.url, 4);
  const log = worker.log();
  assert.match(log, /serving judge endpoint .*task queue /, log);
  assert.match(log, new RegExp(`task queue ${pipeline.judge.queue}`), 'the worker serves the run\'s judge queue');

  const instances = loadEvalSet(DATA_FILES.evalSet).slice(0, 10);
  await landRun(db, baseRun('no-data'), instances, instances.map((i) => ({ idx: i.idx, modelId: 'm', text: `an answer to ${i.idx}`, source: 'imported' as const })));
  const run = await startOrAttach(env.client, pipeline.plan('no-data', ['review']));
  const progress = await run.handle.result();
  assert.equal(progress.done, 10, worker.log());
  assert.equal(progress.failed, 0, worker.log());
  const c = await counts(db, 'no-data');
  assert.equal(c.reviews, 10);
  const scored = await db.run((sql) => sql.all(`SELECT count(*)::INT AS n FROM reviews WHERE run_id = 'no-data' AND review_template = 'flask/prompt_id=2'`));
  assert.equal(scored[0]!.n, 10, 'every review used FLASK prompt 2, rendered by the worker without data/');
  assert.doesNotMatch(worker.log(), /ENOENT|cannot render/, worker.log());
  assert.deepEqual(dataOrResultsIn(app), [], 'the worker made no results file');
});

test('fault drill without data/: one of two such workers is SIGKILLed mid-run; every review lands once', async () => {
  const server = await startOfflineServer({ seed: 22, latencyMs: 400 });
  cleanups.push(() => server.close());
  const db = tempDb('no-data-kill');
  const pipeline = await startTestPipeline(env, db, 'no-data-kill', server.url, { endpointWorkers: false });
  cleanups.push(() => pipeline.shutdown());
  const [a, b] = await Promise.all([startCopyWorker(pipeline.controlQueue, server.url, 2), startCopyWorker(pipeline.controlQueue, server.url, 2)]);
  const instances = loadEvalSet(DATA_FILES.evalSet).slice(0, 40);
  await landRun(db, baseRun('no-data-kill'), instances, instances.map((i) => ({ idx: i.idx, modelId: 'm', text: `an answer to ${i.idx}`, source: 'imported' as const })));
  const run = await startOrAttach(env.client, pipeline.plan('no-data-kill', ['review'], { concurrency: 2, chunkSize: 3 }));
  await waitFor('some reviews to land', async () => ((await counts(db, 'no-data-kill')).reviews ?? 0) >= 8, 120_000);
  a!.proc.kill('SIGKILL');
  const progress = await run.handle.result();
  assert.equal(progress.done, 40, b!.log());
  const c = await counts(db, 'no-data-kill');
  assert.equal(c.reviews, 40, 'nothing lost, nothing landed twice');
  assert.equal(c.distinct_reviews, 40);
  assert.equal(c.scored, 40);
  assert.doesNotMatch(b!.log(), /ENOENT|cannot render/, b!.log());
});
