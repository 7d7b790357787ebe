// --batch: judge requests through the offline server's Files + Batch API, waited for on durable
// timers. The worker is SIGKILLed while the batch runs: the batch is not submitted again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer } from '../../simulator/server.js';
import { startNoBatchApiFront } from '../helpers/noBatchApiFront.js';
import { startOrAttach } from '../../client/runs.js';
import { readRunsOverview } from '../../core/report/runsOverview.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { baseRun, counts, landRun, sleep, startTestPipeline, tempDb, waitFor, temporalForThisFile } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
const cleanups = temporalForThisFile((e) => (env = e));

async function listBatches(url: string): Promise<Array<{ id: string; status: string; metadata: Record<string, string> | null }>> {
  const r = await fetch(`${url}/batches?limit=100`, { headers: { authorization: 'Bearer test-key' } });
  return ((await r.json()) as { data: Array<{ id: string; status: string; metadata: Record<string, string> | null }> }).data;
}

function startWorkerProcess(url: string, queueBase: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '..', 'helpers', 'endpointWorkerProcess.ts'), env.address, url, 'flask-offline-judge', queueBase], {
    cwd: path.resolve(import.meta.dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(async () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => { if (String(d).includes('ready')) resolve(child); });
    child.on('exit', (code) => reject(new Error(`worker exited ${code}`)));
  });
}

test('batch mode: the worker is SIGKILLed while the batch runs; a new worker finishes the run and the batch is not resubmitted', async () => {
  const server = await startOfflineServer({ seed: 9, batches: { completionDelayMs: 4000 } });
  const db = tempDb('batch-kill');
  const n = 6;
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
  await landRun(db, baseRun('bk'), prepared.instances, prepared.responses);
  const w = await startTestPipeline(env, db, 'batch-kill', server.url, { endpointWorkers: false });
  cleanups.push(() => w.shutdown(), () => server.close());
  const first = await startWorkerProcess(server.url, w.controlQueue);
  const t0 = Date.now();
  const plan = (runId: string) => w.plan(runId, ['review'], { chunkSize: 10, batchSize: 10, batch: { pollMs: 300 }, cache: 'on' });
  const { handle } = await startOrAttach(env.client, plan('bk'));
  await waitFor('the batch to be submitted', async () => (await listBatches(server.url)).length > 0, 30_000);
  const submittedAt = Date.now() - t0;
  await sleep(800); // the workflow is between polls, on a durable timer
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const killedAt = Date.now() - t0;
  await sleep(1000);
  await startWorkerProcess(server.url, w.controlQueue);
  const final = await handle.result();
  const doneAt = Date.now() - t0;
  assert.equal(final.done, n);
  const batches = await listBatches(server.url);
  assert.equal(batches.length, 1, `one batch submitted (got ${batches.map((b) => b.id).join(', ')})`);
  assert.equal(batches[0]!.status, 'completed');
  assert.match(batches[0]!.metadata?.flask_eval_key ?? '', /^flask-run-bk-batch-0\/review\//);
  assert.equal(server.stats().byKind.review, n, 'each line answered once: no direct call, no second batch');
  const c = await counts(db, 'bk');
  assert.equal(c.scored, n);
  assert.equal(c.scores, c.expected_scores);
  const calls = await db.read((sql) => sql.one(`SELECT count(*)::INT AS n, count(DISTINCT idx)::INT AS i FROM calls WHERE run_id = 'bk' AND outcome = 'ok'`));
  assert.deepEqual({ ...calls }, { n, i: n });
  console.log(`batch run: ${n} instances, 1 batch; submitted at ${submittedAt} ms, worker killed at ${killedAt} ms, new worker at ~${killedAt + 1000} ms, done at ${doneAt} ms`);

  // Batch answers went into the call cache: the same review under another run name submits no batch and sends nothing.
  await landRun(db, baseRun('bk2'), prepared.instances, prepared.responses);
  const again = await (await startOrAttach(env.client, plan('bk2'))).handle.result();
  assert.equal(again.done, n);
  assert.equal(again.cached, n);
  assert.equal((await listBatches(server.url)).length, 1, 'no second batch');
  assert.equal(server.stats().byKind.review, n, 'no request for the cached answers');
  const cached = await db.read((sql) => sql.one(`SELECT count(*)::INT AS n, min(cached_from) AS src FROM calls WHERE run_id = 'bk2' AND outcome = 'cached'`));
  assert.deepEqual({ ...cached }, { n, src: 'bk' });
});

test('batch mode: failed lines fall back to direct calls (bounded), recorded after their batch lines', async () => {
  const server = await startOfflineServer({ seed: 10, batches: { completionDelayMs: 500, lineFailureRate: 0.5 } });
  const db = tempDb('batch-fail');
  const n = 8;
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
  await landRun(db, baseRun('bf'), prepared.instances, prepared.responses);
  const w = await startTestPipeline(env, db, 'batch-fail', server.url, { limits: { maxConcurrency: 4 } });
  cleanups.push(() => w.shutdown(), () => server.close());
  const final = await (await startOrAttach(env.client, w.plan('bf', ['review'], { chunkSize: 8, batchSize: 8, batch: { pollMs: 200, maxFallback: 2 } }))).handle.result();
  assert.equal(final.done + final.failed, n);
  const rows = await db.read((sql) => sql.all(
    `SELECT v.idx, v.status, v.error, list(c.outcome ORDER BY c.call_no) AS outcomes FROM reviews v JOIN calls c USING (run_id, idx) WHERE v.run_id = 'bf' GROUP BY ALL ORDER BY v.idx`));
  const failedLines = rows.filter((r) => (r.outcomes as string[])[0] === 'server_error');
  assert.ok(failedLines.length > 2, `more failed lines (${failedLines.length}) than the fallback bound`);
  const direct = failedLines.filter((r) => (r.outcomes as string[]).length > 1);
  assert.equal(direct.length, 2, 'two instances asked directly (the bound)');
  for (const r of direct) assert.equal((r.outcomes as string[]).at(-1), 'ok');
  for (const r of failedLines.filter((x) => (x.outcomes as string[]).length === 1)) {
    assert.equal(r.status, 'failed');
    assert.match(String(r.error), /batch line .*fallback bound 2/);
  }
  assert.equal((await listBatches(server.url)).length, 1);
  // The endpoint has the Batch API: failed lines asked directly are no endpoint-wide fallback.
  assert.equal(final.batchFallback, undefined);
  assert.equal((await db.read((sql) => sql.one(`SELECT batch_fallback FROM runs WHERE run_id = 'bf'`)))!.batch_fallback, null);
});

test('submitBatch is idempotent by its key: a retried submit (the first created the batch, then died) finds that batch', async () => {
  const server = await startOfflineServer({ seed: 11, batches: { completionDelayMs: 200 } });
  cleanups.push(() => server.close());
  const { createBatchActivities } = await import('../../activities/batchCalls.js');
  const { OpenAIProvider } = await import('../../core/provider/openaiProvider.js');
  const { endpointRef } = await import('../../core/provider/endpoint.js');
  const endpoint = endpointRef(server.url, 'flask-offline-judge', 'q');
  const acts = createBatchActivities({ endpoint, provider: new OpenAIProvider({ apiKey: 'test-key', baseURL: server.url }) });
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', 2);
  const items = prepared.instances.map((i, k) => ({ idx: i.idx, instruction: i.instruction, answer: i.answer, skills: i.skills, response: prepared.responses[k]!.text }));
  const input = { runId: 'r', step: 'review' as const, endpoint, settings: { temperature: 0.2, maxTokens: 1024 }, shuffleSeed: 1, items, key: 'wf/review/j/2-abc' };
  const a = await acts.submitBatch(input);
  const b = await acts.submitBatch(input);
  assert.equal(a.reused, false);
  assert.equal(a.lines, 2);
  assert.deepEqual({ id: b.batchId, reused: b.reused }, { id: a.batchId, reused: true });
  const c = await acts.submitBatch({ ...input, key: 'wf/review/j/other' });
  assert.notEqual(c.batchId, a.batchId, 'another chunk is another batch');
  assert.equal((await listBatches(server.url)).length, 2);
});

test('batch mode on an endpoint without the Batch API (a local server answering 404): the chunk is asked directly', async () => {
  const server = await startOfflineServer({ seed: 12 });
  const front = await startNoBatchApiFront(server);
  const url = front.url;
  cleanups.push(() => front.close(), () => server.close());
  const db = tempDb('batch-unsupported');
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', 3);
  await landRun(db, baseRun('bu'), prepared.instances, prepared.responses);
  const w = await startTestPipeline(env, db, 'batch-unsupported', url, { limits: { maxConcurrency: 4 } });
  cleanups.push(() => w.shutdown());
  const final = await (await startOrAttach(env.client, w.plan('bu', ['review'], { batch: { pollMs: 200 } }))).handle.result();
  assert.equal(final.done, 3);
  const c = await db.read((sql) => sql.one(`SELECT count(*)::INT AS n, count(*) FILTER (via_batch)::INT AS b FROM calls WHERE run_id = 'bu' AND outcome = 'ok'`));
  assert.deepEqual({ ...c }, { n: 3, b: 0 });
  // The fallback is said in the run's progress (the command prints it), and recorded on the run and on each direct call.
  assert.match(final.batchFallback ?? '', new RegExp(`^${url.replace(/[.]/g, '\\.')} has no Batch API \\(.*\\): judge requests sent directly, at the full price$`));
  const run = await db.read((sql) => sql.one(`SELECT batch_fallback FROM runs WHERE run_id = 'bu'`));
  assert.equal(run!.batch_fallback, final.batchFallback);
  const marked = await db.read((sql) => sql.one(`SELECT count(*)::INT AS n, count(DISTINCT batch_fallback)::INT AS reasons, min(batch_fallback) AS reason FROM calls WHERE run_id = 'bu' AND batch_fallback IS NOT NULL`));
  assert.deepEqual([marked!.n, marked!.reasons, marked!.reason], [3, 1, final.batchFallback]);
  // `flask-eval runs` says it too (readRunsOverview: the line under its table).
  const overview = await db.read((sql) => readRunsOverview(sql));
  assert.equal(overview.find((r) => r.runId === 'bu')?.batchFallback, final.batchFallback);
});
