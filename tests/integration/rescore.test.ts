// flask-eval rescore (activities/rescoreReviews.ts): stored judge texts parsed again into a new
// run or in place, with no model call; a changed text changes the scores (it re-parses, not copies).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer } from '../../simulator/server.js';
import { startOrAttach } from '../../client/runs.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { runCost } from '../../core/cost/runCost.js';
import { rescoreReviews } from '../../activities/rescoreReviews.js';
import type { Database } from '../../core/store/database.js';
import { baseRun, landRun, startTestPipeline, tempDb, temporalForThisFile } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
const cleanups = temporalForThisFile((e) => (env = e));

const scoresOf = (db: Database, runId: string) => db.read(async (sql) =>
  (await sql.all(`SELECT judge_id, idx, skill, score FROM review_scores WHERE run_id = ? ORDER BY ALL`, [runId])).map((r) => `${r.judge_id}/${r.idx}/${r.skill}=${r.score}`));

test('rescore: a panel run (one-call and per-skill judges) re-parsed into a new run and in place, no request sent', async () => {
  const server = await startOfflineServer({ seed: 13 });
  const db = tempDb('rescore');
  const n = 8;
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
  const workers = await startTestPipeline(env, db, 'rescore', server.url, { limits: { maxConcurrency: 4 } });
  cleanups.push(() => workers.shutdown(), () => server.close());
  const settings = { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3 };
  const judges = ['flask', 'prometheus'].map((profile) => ({ id: `${workers.judge.id}:${profile}`, endpoint: workers.judge, profile, settings }));
  await landRun(db, { ...baseRun('src'), judges: judges.map((j) => ({ id: j.id, model: j.endpoint.model, baseUrl: j.endpoint.baseUrl, profile: j.profile, settings })) },
    prepared.instances, prepared.responses);
  const final = await (await startOrAttach(env.client, workers.plan('src', ['review'], { judges }))).handle.result();
  assert.equal(final.done, n);
  const requests = server.stats().requests;

  const copy = await db.run((sql) => rescoreReviews(sql, 'src', 'copy'));
  assert.deepEqual(copy, { runId: 'copy', reviews: 2 * n, changed: 0, scored: 2 * n, failed: 0 });
  assert.equal(server.stats().requests, requests, 'no request sent');
  assert.deepEqual(await scoresOf(db, 'copy'), await scoresOf(db, 'src'));
  const calls = await db.read(async (sql) => Number((await sql.one(`SELECT count(*)::INT AS n FROM calls WHERE run_id = 'copy'`))!.n));
  assert.equal(calls, 0);
  assert.equal((await db.read((sql) => runCost(sql, 'copy', { 'flask-offline-judge': { input: 1000, output: 1000 } }))).pricedUsd, 0);
  const summary = await db.read((sql) => sql.one(`SELECT json_extract_string(summary, '$.rescoredFrom') AS src FROM runs WHERE run_id = 'copy'`));
  assert.equal(summary!.src, 'src');

  // Change two stored texts: a flask review now says 1 for every skill, one Prometheus call no longer parses.
  const first = prepared.instances[0]!;
  const second = prepared.instances[1]!;
  await db.run(async (sql) => {
    await sql.exec(`UPDATE reviews SET raw_text = ? WHERE run_id = 'src' AND idx = ? AND judge_id = ?`,
      [`{${first.skills.map((s) => `'${s}': 1`).join(', ')}}`, first.idx, judges[0]!.id]);
    await sql.exec(`UPDATE reviews SET raw_text = regexp_replace(raw_text, '\\[RESULT\\][^\\n]*$', 'no verdict') WHERE run_id = 'src' AND idx = ? AND judge_id = ?`,
      [second.idx, judges[1]!.id]);
  });
  const inPlace = await db.run((sql) => rescoreReviews(sql, 'src', 'src'));
  assert.deepEqual(inPlace, { runId: 'src', reviews: 2 * n, changed: 2, scored: 2 * n - 1, failed: 1 });
  const ones = await db.read((sql) => sql.all(`SELECT DISTINCT score FROM review_scores WHERE run_id = 'src' AND idx = ? AND judge_id = ?`, [first.idx, judges[0]!.id]));
  assert.deepEqual(ones, [{ score: 1 }]);
  const failed = await db.read((sql) => sql.one(`SELECT status, error FROM reviews WHERE run_id = 'src' AND idx = ? AND judge_id = ?`, [second.idx, judges[1]!.id]));
  assert.equal(failed!.status, 'failed');
  assert.match(String(failed!.error), new RegExp(`^unparseable answer on rescore \\(call ${second.skills.length} of ${second.skills.length}\\)`));
  assert.equal(server.stats().requests, requests, 'still no request sent');

  await assert.rejects(db.run((sql) => rescoreReviews(sql, 'src', 'copy')), /run "copy" exists: choose another name with --into NAME, or rescore in place with --in-place/);
  await assert.rejects(db.run((sql) => rescoreReviews(sql, 'nope', 'x')), /no run named "nope"/);
});
