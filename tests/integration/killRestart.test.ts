// A worker process is SIGKILLed mid-run and a new one started: the run finishes with no
// duplicate rows, and nothing that had landed is asked of a model again. One scenario per
// pipeline: review, eval (generate -> review) and annotate (domain -> skillset -> difficulty).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer, requestContentHash, type OfflineRequestEvent } from '../../simulator/server.js';
import { renderReviewPrompt } from '../../core/prompts/review.js';
import { renderDomainPrompt, renderSkillsetPrompt, skillNumbering } from '../../core/prompts/annotation.js';
import { getInstance, getResponse } from '../../core/store/instances.js';
import { startOrAttach } from '../../client/runs.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { loadEvalSet } from '../../core/flask/dataset.js';
import { DATA_FILES, PROJECT_ROOT, publishedAnswersFile } from '../../core/paths.js';
import type { Step } from '../../core/pipeline.js';
import type { Database } from '../../core/store/database.js';
import { baseRun, counts, landRun, startTemporal, startTestPipeline, tempDb, waitFor } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startTemporal();
});
after(async () => {
  await env?.teardown();
});

/** An endpoint worker process (`flask-eval worker`): no results file, only Temporal and the endpoint. */
function startWorkerProcess(taskQueue: string, judgeUrl: string): ChildProcess {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), 'worker', '--max-concurrency', '4'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env, TEMPORAL_ADDRESS: env.address, FLASK_TASK_QUEUE: taskQueue,
      OPENAI_BASE_URL: judgeUrl, OPENAI_API_KEY: 'test-key', FLASK_JUDGE_MODEL: 'flask-offline-judge',
      FLASK_MODEL_BASE_URL: judgeUrl, FLASK_MODEL_API_KEY: 'test-key', FLASK_MODEL_NAME: 'flask-offline-model',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d) => { if (process.env.DEBUG_WORKER) process.stderr.write(d); });
  return child;
}

/** Landed results, keyed by instance: what must never be redone. */
async function landedKeys(db: Database, runId: string, steps: Step[]): Promise<Set<string>> {
  const rows = await db.run((sql) => sql.all(
    `SELECT 'review:' || idx AS k FROM reviews WHERE run_id = $1
     UNION ALL SELECT 'generate:' || idx FROM responses WHERE run_id = $1 AND $2
     UNION ALL SELECT stage || ':' || idx FROM annotations WHERE run_id = $1`, [runId, steps.includes('generate')]));
  return new Set(rows.map((r) => String(r.k)));
}

/** The content hash of the request that produced a landed result (difficulty: not rebuilt here). */
async function requestHashFor(db: Database, runId: string, key: string): Promise<string | undefined> {
  const [step, idxText] = key.split(':');
  const idx = Number(idxText);
  const { inst, resp } = await db.run(async (sql) => ({ inst: (await getInstance(sql, runId, idx))!, resp: await getResponse(sql, runId, idx) }));
  if (step === 'review') return requestContentHash(renderReviewPrompt(inst, resp!.text));
  if (step === 'generate') return requestContentHash([{ role: 'user', content: inst.instruction }]);
  if (step === 'domain') return requestContentHash(renderDomainPrompt(inst.instruction).messages);
  if (step === 'skillset') return requestContentHash(renderSkillsetPrompt(inst.instruction, inst.answer || undefined, skillNumbering(7, idx)).messages);
  return undefined;
}

async function scenario(name: string, steps: Step[], landedBeforeKill: number, expect: (db: Database) => Promise<void>) {
  const events: OfflineRequestEvent[] = [];
  // Every request carries its step and instance in a header-free way: we map by content below.
  const server = await startOfflineServer({ seed: 3, latencyMs: 150, onRequest: (e) => events.push(e) });
  const db = tempDb(name);
  const n = 30;
  if (steps[0] === 'review') {
    const p = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
    await landRun(db, baseRun(name), p.instances, p.responses);
  } else {
    await landRun(db, baseRun(name, steps[0] === 'generate' ? 'eval' : 'annotate'), loadEvalSet(DATA_FILES.evalSet).slice(0, n));
  }
  // The store (results file, workflows) stays in this process; endpoint workers are processes.
  const pipeline = await startTestPipeline(env, db, name, server.url, { endpointWorkers: false });
  let worker = startWorkerProcess(pipeline.controlQueue, server.url);
  const { handle } = await startOrAttach(env.client, pipeline.plan(name, steps, { concurrency: 4, batchSize: 10, maxAttempts: 12, heartbeatTimeoutMs: 3000 }));
  await waitFor('results to land before the kill', async () => (await landedKeys(db, name, steps)).size >= landedBeforeKill, 90_000);
  worker.kill('SIGKILL');
  await new Promise((r) => worker.once('exit', r));
  const landed = await landedKeys(db, name, steps);
  const eventsAtKill = events.length;
  // Content hashes of requests whose results had landed: none may be sent again.
  const answeredBeforeKill = new Set(events.filter((e) => e.status === 200).map((e) => e.contentHash));

  worker = startWorkerProcess(pipeline.controlQueue, server.url);
  try {
    const final = await handle.result();
    assert.equal(final.done + final.failed, n, 'every instance finished');
    await expect(db);
    const after = events.slice(eventsAtKill).filter((e) => e.status === 200);
    const repeated = after.filter((e) => answeredBeforeKill.has(e.contentHash));
    // Repeated: the calls in flight in the killed worker and those answered after its last
    // heartbeat (one second). The first are recorded as lost, every other unfinished instance of
    // its chunks as possibly sent, and their repeats as re-sent.
    const rec = (await db.run((sql) => sql.one<{ lost: number; possibly: number; resent: number; calls: number }>(
      `SELECT count(*) FILTER (outcome = 'lost')::INT AS lost, count(*) FILTER (outcome = 'possibly_sent')::INT AS possibly,
              count(*) FILTER (resent)::INT AS resent, count(*)::INT AS calls FROM calls WHERE run_id = ?`, [name])))!;
    assert.ok(repeated.length <= 4 * 2 + 4 * 2 * 7, `${repeated.length} requests repeated after the restart`);
    // The promise: every request that reached the endpoint is recorded (an upper bound).
    const served = events.filter((e) => e.status === 200).length;
    assert.ok(rec.calls >= served, `the server answered ${served} requests; the run recorded ${rec.calls} calls (${rec.lost} lost, ${rec.possibly} possibly sent)`);
    assert.ok(rec.lost + rec.possibly >= repeated.length, `${repeated.length} requests were repeated; recorded ${rec.lost} lost + ${rec.possibly} possibly sent`);
    // ... and bounded by the killed worker's unfinished chunks (3 chunks of 10 in flight per step).
    assert.ok(rec.lost + rec.possibly <= 3 * 10 * steps.length, `recorded ${rec.lost} lost + ${rec.possibly} possibly sent`);
    process.stderr.write(`# ${name}: server answered ${served}, ${repeated.length} repeats; recorded ${rec.lost} lost + ${rec.possibly} possibly sent\n`);
    assert.ok(rec.resent <= rec.lost + rec.possibly, 're-sent calls repeat lost or possibly sent ones');
    assert.ok(landed.size >= landedBeforeKill);
    // The strict check: the exact request of every result landed before the kill was not sent again.
    const sentAfter = new Set(after.map((e) => e.contentHash));
    let checked = 0;
    for (const key of landed) {
      const hash = await requestHashFor(db, name, key);
      if (!hash) continue;
      assert.ok(answeredBeforeKill.has(hash), `${key}: its request was seen before the kill`);
      assert.ok(!sentAfter.has(hash), `${key} had landed, yet its model call was repeated`);
      checked++;
    }
    assert.ok(checked >= landedBeforeKill / 2, `checked ${checked} landed results`);
    return { landed, repeated: repeated.length, events };
  } finally {
    worker.kill('SIGTERM');
    await pipeline.shutdown();
    await server.close();
  }
}

test('review: a SIGKILLed worker is replaced and the run finishes with no duplicates', async () => {
  await scenario('kill-review', ['review'], 8, async (db) => {
    const c = await counts(db, 'kill-review');
    assert.equal(c.reviews, 30);
    assert.equal(c.distinct_reviews, 30);
    assert.equal(c.scores, c.expected_scores);
  });
});

test('eval: generate -> review survives a SIGKILL; no landed answer is generated twice', async () => {
  await scenario('kill-eval', ['generate', 'review'], 10, async (db) => {
    const c = await counts(db, 'kill-eval');
    assert.equal(c.responses, 30);
    assert.equal(c.reviews, 30);
    assert.equal(c.distinct_reviews, 30);
    assert.equal(c.scores, c.expected_scores);
  });
});

test('annotate: three stages survive a SIGKILL without re-annotating finished stages', async () => {
  await scenario('kill-annotate', ['domain', 'skillset', 'difficulty'], 20, async (db) => {
    const rows = await db.run((sql) => sql.all(`SELECT stage, count(*)::INT AS n, count(DISTINCT idx)::INT AS d FROM annotations WHERE run_id = 'kill-annotate' GROUP BY stage ORDER BY stage`));
    assert.deepEqual(rows, [
      { stage: 'difficulty', n: 30, d: 30 },
      { stage: 'domain', n: 30, d: 30 },
      { stage: 'skillset', n: 30, d: 30 },
    ]);
  });
});
