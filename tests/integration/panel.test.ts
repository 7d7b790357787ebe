// Judge panels: reviews keyed per judge (with the migration of files keyed without it), the
// review step run once per judge, judge-agreement figures against an independent computation,
// and a judge added to a finished run judging only what it has not judged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer } from '../../simulator/server.js';
import { startOrAttach } from '../../client/runs.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { Database } from '../../core/store/database.js';
import { landResults } from '../../core/store/landResults.js';
import { endpointId, endpointRef } from '../../core/provider/endpoint.js';
import { formatPanelAgreement, panelAgreement, panelScores } from '../../client/commands/judgeAgreement.js';
import { judgeIdOf, type JudgeSpec, type StepOutcome } from '../../core/pipeline.js';
import { baseRun, landRun, startTestPipeline, tempDb, temporalForThisFile } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
const cleanups = temporalForThisFile((e) => (env = e));

const outcome = (idx: number, value: Record<string, number | 'N/A'> | undefined): StepOutcome => ({
  idx, status: value ? 'done' : 'failed', value, text: 'x', ...(value ? {} : { error: 'unparseable' }), attempts: 1, promptTokens: 10, completionTokens: 5,
  simulated: true, startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:01Z', calls: [],
});

// Figures computed independently from the definitions (Python, no shared code: average ranks +
// Pearson, Kendall tau-b by enumerating pairs, Krippendorff's coincidence matrix with ordinal
// d² = (Σ_{g=c..k} n_g − (n_c + n_k)/2)²) on these scores.
const FIXTURE = {
  A: { correctness: [5, 4, 3, 2, 4, 1], readability: [4, 4, 5, 3, 2, 5] },
  B: { correctness: [4, 4, 2, 2, 5, 1], readability: [5, 3, 5, 2, 2, 4] },
  expected: {
    correctness: { spearman: 0.8508410434878083, kendall: 0.7412493166611012, alpha: 0.8506172839506173, exact: 3, within: 6, n: 6 },
    readability: { spearman: 0.7878787878787878, kendall: 0.6923076923076923, alpha: 0.7459425717852683, exact: 2, within: 6, n: 6 },
    overall: { spearman: 0.817849517366696, kendall: 0.7156264473321343, alpha: 0.7927808513908099, exact: 5, within: 12, n: 12 },
  },
};

test('judge-agreement: per skill and overall figures of a two-judge panel equal an independent computation; N/A and failed reviews left out', async () => {
  const db = tempDb('panel-fixture');
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', 8);
  await landRun(db, baseRun('fx'), prepared.instances, prepared.responses);
  const a = endpointRef('http://127.0.0.1:1/v1', 'judge-a', 'q');
  const b = endpointRef('http://127.0.0.1:2/v1', 'judge-b', 'q');
  const idxs = prepared.instances.map((i) => i.idx);
  await db.run(async (sql) => {
    for (const [ref, scores, profile] of [[a, FIXTURE.A, 'flask'], [b, FIXTURE.B, 'prometheus']] as const) {
      const outs = idxs.slice(0, 6).map((idx, k) => outcome(idx, { 'Logical Correctness': scores.correctness[k]!, Readability: scores.readability[k]! }));
      // Instance 7: one judge says N/A (no pair); instance 8: judge A failed (no scores).
      outs.push(outcome(idxs[6]!, ref === a ? { Readability: 3 } : { Readability: 'N/A' }), outcome(idxs[7]!, ref === a ? undefined : { Readability: 2 }));
      await landResults(sql, 'fx', 'review', ref, outs, { judgeId: judgeIdOf(ref.id, profile), judgeProfile: profile });
    }
  });
  const panel = await db.read((sql) => panelScores(sql, 'fx'));
  assert.deepEqual(panel.judges.map((j) => [j.model, j.profile]), [['judge-a', 'flask'], ['judge-b', 'prometheus']].sort((x, y) =>
    judgeIdOf((x[0] === 'judge-a' ? a : b).id, x[1]).localeCompare(judgeIdOf((y[0] === 'judge-a' ? a : b).id, y[1]))));
  const agreement = panelAgreement(panel.scores);
  const close = (x: number | null, y: number, what: string) => assert.ok(x !== null && Math.abs(x - y) < 1e-12, `${what}: ${x} vs ${y}`);
  for (const [name, s] of [...agreement.bySkill, ['overall', agreement.overall] as const]) {
    const e = FIXTURE.expected[name as keyof typeof FIXTURE.expected];
    assert.ok(e, `unexpected group ${name}`);
    assert.equal(s.items, e.n, `${name} items`);
    close(s.pairs[0]!.spearman, e.spearman, `${name} spearman`);
    close(s.pairs[0]!.kendallTauB, e.kendall, `${name} kendall`);
    close(s.krippendorffAlpha, e.alpha, `${name} alpha`);
    assert.deepEqual([s.exact.count, s.exact.n, s.withinOne.count, s.withinOne.n], [e.exact, e.n, e.within, e.n], `${name} exact / within one`);
  }
  const table = formatPanelAgreement(panel.judges, agreement);
  assert.match(table, /^overall\s+12\s+0\.818\s+0\.716\s+0\.793\s+5\/12 \(41\.7%\)\s+12\/12 \(100\.0%\)$/m);
  // Per-judge and pooled figures from the summary views.
  const summary = await db.read((sql) => sql.all(`SELECT judge_id, skill, count::INT AS n, avg FROM skill_summary WHERE run_id = 'fx' AND skill = 'correctness' ORDER BY judge_id`));
  assert.equal(summary.length, 2);
  assert.deepEqual(summary.map((r) => r.n), [6, 6]);
  await db.close();
});

test('a file keyed without judges is migrated: new keys, every review and score kept, each with its judge id', async () => {
  const db = tempDb('panel-migrate');
  const file = db.file;
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', 3);
  await landRun(db, { ...baseRun('old'), judgeBaseUrl: 'http://127.0.0.1:9/v1' }, prepared.instances, prepared.responses);
  const ref = endpointRef('http://127.0.0.1:9/v1', 'flask-offline-judge', 'q');
  await db.run((sql) => landResults(sql, 'old', 'review', ref, prepared.instances.map((i) => outcome(i.idx, { Readability: 4 })), { judgeId: 'x' }));
  // Rewrite the two tables as the previous release had them: no judge_id, keyed by (run, idx[, skill]).
  await db.run(async (sql) => {
    for (const v of ['skill_summary', 'skill_difficulty_summary', 'domain_summary', 'domain_skill_summary', 'scores']) await sql.exec(`DROP VIEW ${v}`);
    await sql.exec(`CREATE TABLE reviews_old AS SELECT * EXCLUDE (judge_id) FROM reviews`);
    await sql.exec(`CREATE TABLE scores_old AS SELECT * EXCLUDE (judge_id) FROM review_scores`);
    await sql.exec(`DROP TABLE reviews`);
    await sql.exec(`DROP TABLE review_scores`);
    await sql.exec(`CREATE TABLE reviews (run_id VARCHAR NOT NULL, idx INTEGER NOT NULL, status VARCHAR NOT NULL, judge_model VARCHAR, raw_text VARCHAR, error VARCHAR,
      prompt_tokens INTEGER, completion_tokens INTEGER, attempts INTEGER NOT NULL, started_at TIMESTAMP, finished_at TIMESTAMP, PRIMARY KEY (run_id, idx))`);
    await sql.exec(`INSERT INTO reviews SELECT run_id, idx, status, judge_model, raw_text, error, prompt_tokens, completion_tokens, attempts, started_at, finished_at FROM reviews_old`);
    await sql.exec(`CREATE TABLE review_scores (run_id VARCHAR NOT NULL, idx INTEGER NOT NULL, skill VARCHAR NOT NULL, skill_key VARCHAR NOT NULL, score DOUBLE, PRIMARY KEY (run_id, idx, skill))`);
    await sql.exec(`INSERT INTO review_scores SELECT * FROM scores_old`);
    await sql.exec(`DROP TABLE reviews_old`);
    await sql.exec(`DROP TABLE scores_old`);
  });
  await db.close();
  const reopened = new Database(file);
  const rows = await reopened.read((sql) => sql.all(`SELECT idx, judge_id FROM reviews ORDER BY idx`));
  // Old rows had no endpoint column: the run's judge base URL names the judge.
  assert.deepEqual(rows.map((r) => r.judge_id), prepared.instances.map(() => `${endpointId('http://127.0.0.1:9/v1', 'flask-offline-judge')}:flask`));
  const keys = await reopened.read((sql) => sql.all(
    `SELECT table_name, constraint_column_names AS cols FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' AND table_name IN ('reviews', 'review_scores') ORDER BY table_name`));
  assert.deepEqual(keys.map((k) => [k.table_name, k.cols]), [['review_scores', ['run_id', 'idx', 'skill', 'judge_id']], ['reviews', ['run_id', 'idx', 'judge_id']]]);
  const n = await reopened.read((sql) => sql.one(`SELECT (SELECT count(*) FROM review_scores)::INT AS s, (SELECT count(*) FROM scores)::INT AS v`));
  assert.deepEqual({ ...n }, { s: 3, v: 3 });
  void ref;
  await reopened.close();
});

test('a two-judge panel judges each instance with each judge; a judge added to a finished run judges each instance once', async () => {
  const server = await startOfflineServer({ seed: 5 });
  const db = tempDb('panel-run');
  const n = 10;
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
  await landRun(db, baseRun('panel'), prepared.instances, prepared.responses);
  const w = await startTestPipeline(env, db, 'panel', server.url, { limits: { maxConcurrency: 4 } });
  cleanups.push(() => w.shutdown(), () => server.close());
  const flask: JudgeSpec = { id: judgeIdOf(w.judge.id, 'flask'), endpoint: w.judge, profile: 'flask', settings: { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3 } };
  const prometheus: JudgeSpec = { id: judgeIdOf(w.judge.id, 'prometheus'), endpoint: w.judge, profile: 'prometheus', settings: { temperature: 1, maxTokens: 1024, maxParseAttempts: 3 } };
  const callsBy = async () => Object.fromEntries((await db.read((sql) => sql.all(
    `SELECT judge_id, count(*)::INT AS n FROM calls WHERE run_id = 'panel' GROUP BY judge_id`))).map((r) => [String(r.judge_id), Number(r.n)]));

  // 1. The run with one judge.
  const one = await (await startOrAttach(env.client, w.plan('panel', ['review'], { judges: [flask], batchSize: 6 }))).handle.result();
  assert.equal(one.done + one.failed, n);
  assert.deepEqual(await callsBy(), { [flask.id]: n });

  // 2. The finished run gains a judge: only the new judge works, once per instance.
  const t0 = Date.now();
  const two = await (await startOrAttach(env.client, w.plan('panel', ['review'], { judges: [flask, prometheus], batchSize: 6 }))).handle.result();
  const ms = Date.now() - t0;
  assert.equal(two.done + two.failed, n);
  const calls = await callsBy();
  assert.equal(calls[flask.id], n, 'the first judge judged nothing again');
  const promReviews = await db.read((sql) => sql.all(`SELECT idx, count(*)::INT AS k FROM reviews WHERE run_id = 'panel' AND judge_id = ? GROUP BY idx`, [prometheus.id]));
  assert.equal(promReviews.length, n);
  assert.ok(promReviews.every((r) => r.k === 1), 'one review per instance');
  assert.equal(calls[prometheus.id], 3 * n, 'one call per skill, once per instance');
  const perJudge = await db.read((sql) => sql.all(`SELECT judge_id, count(*)::INT AS rows FROM scores WHERE run_id = 'panel' GROUP BY judge_id ORDER BY judge_id`));
  assert.equal(perJudge.length, 2);
  // 3. Again with the same panel: nothing to do.
  const three = await (await startOrAttach(env.client, w.plan('panel', ['review'], { judges: [flask, prometheus], batchSize: 6 }))).handle.result();
  assert.equal(three.calls, 0);
  assert.equal(three.resumed, n);

  const panel = await db.read((sql) => panelScores(sql, 'panel'));
  const a = panelAgreement(panel.scores);
  const o = a.overall;
  console.log(`panel: ${n} instances, 2 judges, ${calls[flask.id]! + calls[prometheus.id]!} calls, added judge ${ms} ms; offline judges agree: ` +
    `items ${o.items}, spearman ${o.pairs[0]!.spearman?.toFixed(3)}, kendall ${o.pairs[0]!.kendallTauB?.toFixed(3)}, alpha ${o.krippendorffAlpha?.toFixed(3)}, ` +
    `exact ${o.exact.count}/${o.exact.n}, within one ${o.withinOne.count}/${o.withinOne.n}`);
});

test('eval with a panel: each answer generated once, then judged by each judge; cost per judge from its calls', async () => {
  const server = await startOfflineServer({ seed: 8 });
  const db = tempDb('panel-eval');
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', 5);
  await landRun(db, baseRun('pe', 'eval'), prepared.instances);
  const w = await startTestPipeline(env, db, 'pe', server.url, { limits: { maxConcurrency: 4 } });
  cleanups.push(() => w.shutdown(), () => server.close());
  const judges: JudgeSpec[] = (['flask', 'prometheus'] as const).map((profile) => ({
    id: judgeIdOf(w.judge.id, profile), endpoint: w.judge, profile, settings: { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3 },
  }));
  const final = await (await startOrAttach(env.client, w.plan('pe', ['generate', 'review'], { judges }))).handle.result();
  assert.equal(final.done + final.failed, 5);
  const rows = await db.read((sql) => sql.all(
    `SELECT step, coalesce(judge_id, '-') AS judge, count(*)::INT AS n FROM calls WHERE run_id = 'pe' AND outcome = 'ok' GROUP BY ALL ORDER BY step, judge`));
  const by = Object.fromEntries(rows.map((r) => [`${r.step}/${r.judge}`, Number(r.n)]));
  assert.equal(by['generate/-'], 5, 'each answer generated once');
  assert.ok(by[`review/${judges[0]!.id}`]! >= 5 && by[`review/${judges[1]!.id}`]! >= 15);
  const reviews = await db.read((sql) => sql.all(`SELECT judge_id, count(DISTINCT idx)::INT AS n FROM reviews WHERE run_id = 'pe' GROUP BY judge_id`));
  assert.deepEqual(reviews.map((r) => r.n), [5, 5]);
  const { runCost } = await import('../../core/cost/runCost.js');
  const cost = await db.read((sql) => runCost(sql, 'pe', { 'flask-offline-judge': { input: 1, output: 1 }, 'flask-offline-model': { input: 1, output: 1 } }));
  assert.deepEqual(cost.lines.map((l) => [l.role, l.judgeId]).sort(), [['judge', judges[0]!.id], ['judge', judges[1]!.id], ['model', null]].sort());
  assert.ok(cost.totalUsd! > 0);
});
