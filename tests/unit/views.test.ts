import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Database } from '../../core/store/database.js';
import { createOrMatchRun, type RunRecord } from '../../core/store/runs.js';
import { landInstances, landResponses } from '../../core/store/instances.js';
import { landReview, type ReviewFixture as ReviewRow } from '../helpers/landReview.js';
import { readAnalysis } from '../../core/report/analyses.js';
import { toCsv } from '../../core/report/format.js';
import type { EvalInstance } from '../../core/flask/dataset.js';

const file = path.join(mkdtempSync(path.join(tmpdir(), 'flask-views-')), 'r.duckdb');
const db = new Database(file);

const run: RunRecord = {
  runId: 'fx', kind: 'review', simulated: true, datasetPath: null, datasetSha256: null, answersPath: null, answersSha256: null,
  modelId: 'm', modelEndpoint: null, modelSettings: null, judgeModel: 'j', judgeEndpoint: null,
  judgeSettings: { temperature: 0.2, maxTokens: 1024 }, promptTemplateSha256: null, projectVersion: 'test', summary: {},
};
const inst = (idx: number, skills: string[], domains: string[], difficulty: string | null): EvalInstance => ({
  idx, instruction: `q${idx}`, answer: '', task: '', skills: skills as EvalInstance['skills'], domains, unlabelledDomain: domains.length === 0, difficulty: difficulty as EvalInstance['difficulty'], extra: {},
});
const review = (idx: number, status: 'scored' | 'failed', scores: ReviewRow['scores']): ReviewRow => ({
  idx, status, judgeModel: 'j', rawText: 'raw', error: status === 'failed' ? 'no dict' : null, scores,
  promptTokens: 10, completionTokens: 5, attempts: 1,
});

async function landFixture(): Promise<void> {
  await db.run(async (sql) => {
    await createOrMatchRun(sql, run);
    await landInstances(sql, 'fx', [
      inst(1, ['Readability', 'Logical Correctness'], ['Math', 'Coding'], 'simple lifestyle knowledge'),
      inst(2, ['Readability', 'Factuality'], ['Math'], 'major level knowledge'),
      inst(3, ['Readability'], ['History'], null),
      inst(4, ['Logical Correctness'], [], 'simple lifestyle knowledge'),
    ]);
    await landResponses(sql, 'fx', [1, 2, 3, 4].map((idx) => ({ idx, modelId: 'm', text: `r${idx}`, source: 'imported' as const })));
  });
  await db.run((sql) => landReview(sql, 'fx', review(1, 'scored', { Readability: 4, 'Logical Correctness': 2 })));
  await db.run((sql) => landReview(sql, 'fx', review(2, 'scored', { Readability: 5, Factuality: 'N/A' })));
  await db.run((sql) => landReview(sql, 'fx', review(3, 'failed', {})));
  await db.run((sql) => landReview(sql, 'fx', review(4, 'scored', { 'Logical Correctness': 3 })));
}

test('landing twice changes nothing (idempotent)', async () => {
  await landFixture();
  await landFixture();
  // A retried activity with different scores must not overwrite or add rows either.
  await db.run((sql) => landReview(sql, 'fx', review(1, 'scored', { Readability: 1, 'Logical Correctness': 1 })));
  const counts = await db.run((sql) => sql.one(`SELECT (SELECT count(*) FROM instances)::INT AS i, (SELECT count(*) FROM responses)::INT AS r,
      (SELECT count(*) FROM reviews)::INT AS v, (SELECT count(*) FROM review_scores)::INT AS s,
      (SELECT score FROM review_scores WHERE idx = 1 AND skill = 'Readability') AS r1`));
  assert.deepEqual(counts, { i: 4, r: 4, v: 4, s: 5, r1: 4 });
});

test('per skill: N/A and failed reviews excluded, FLASK skill order', async () => {
  const rows = await db.run((sql) => readAnalysis(sql, ['fx'], 'skill'));
  assert.deepEqual(rows.map((r) => [r.key, r.score_sum, r.count, r.avg, r.na_count]), [
    ['correctness', 5, 2, 2.5, 0],
    ['factuality', 0, 0, null, 1],
    ['readability', 9, 2, 4.5, 0],
  ]);
  assert.equal(toCsv(rows, 'skill').split('\n')[0], 'run,skill,score,count,avg');
  assert.equal(toCsv(rows, 'skill').split('\n')[3], 'fx,readability,9,2,4.5');
});

test('per skill x difficulty with the cumulative average; unlabelled difficulty left out', async () => {
  const rows = await db.run((sql) => readAnalysis(sql, ['fx'], 'difficulty'));
  // Like FLASK's CSV, a level whose scores are all N/A is a row with count 0 and no average.
  assert.deepEqual(rows.map((r) => [r.key, r.level, r.score_sum, r.count, r.avg, r.cumulative_avg]), [
    ['correctness', 1, 5, 2, 2.5, 2.5],
    ['factuality', 4, 0, 0, null, null],
    ['readability', 1, 4, 1, 4, 4],
    ['readability', 4, 5, 1, 5, 4.5],
  ]);
});

test('per domain: every domain of an instance receives all of its scores', async () => {
  const rows = await db.run((sql) => readAnalysis(sql, ['fx'], 'domain'));
  const byDomain = Object.fromEntries(rows.map((r) => [r.key, [r.score_sum, r.count, Number(r.avg?.toFixed(4)), r.na_count]]));
  assert.deepEqual(byDomain, { Coding: [6, 2, 3, 0], Math: [11, 3, 3.6667, 1] });
});

test('one process owns the file: another that tries to open it is told who has it and what to do', async () => {
  await db.run((sql) => sql.exec(`SELECT 1`)); // this process holds the file open
  const script = `import { Database } from './core/store/database.js';
    const db = new Database(${JSON.stringify(file)});
    try { await db.run((sql) => sql.one('SELECT 1 AS x')); console.log('opened'); } catch (e) { console.log(e.message); }`;
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: path.resolve(import.meta.dirname, '..', '..') });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((r) => child.on('exit', r));
  assert.match(out, /is open in another process \(PID \d+\)\. One process owns the results file: go through it \(flask-eval server\)/);
});
