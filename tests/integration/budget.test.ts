// --max-cost that holds: each chunk reserves its calls' worst case (BPE prompt + max_tokens at the
// price) before it is sent, releases it as each step lands, and the run stops when the next
// instance's worst case does not fit what is left. The landed cost never passes the budget; a
// re-ask that would pass an instance's reservation is not made; the same run with a higher budget
// carries on, judging nothing twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer } from '../../simulator/server.js';
import { startOrAttach } from '../../client/runs.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { runCost, formatRunCost } from '../../core/cost/runCost.js';
import { loadPriceTable } from '../../core/cost/pricing.js';
import { budgetStopMessage, runSummary } from '../../client/execute.js';
import { defaultChunkSize, RUN_DEFAULTS } from '../../client/flags.js';
import { BUDGET_REACHED } from '../../core/pipeline.js';
import { baseRun, counts, landRun, startTestPipeline, tempDb, temporalForThisFile } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
const cleanups = temporalForThisFile((e) => (env = e));

// $1,000 per 1M tokens: an instance's worst case is about $2.5 (a ~1,500-token prompt + 1,024 max_tokens),
// what it really costs about $2 (the offline server counts ~4 characters a token, ~27% over BPE).
const PRICES = { 'flask-offline-judge': { input: 1000, output: 1000 } };

const SHAPES = [
  // the shape that livelocked a per-lane design: chunk shares smaller than one call's worst case
  { name: 'chunks of 4, 4 in flight', chunkSize: 4, concurrency: 4, batchSize: 100 },
  // the CLI's defaults: one chunk would hold every instance, so the reservation alone bounds it
  { name: 'the default concurrency and chunk size', chunkSize: defaultChunkSize(RUN_DEFAULTS.concurrency), concurrency: RUN_DEFAULTS.concurrency, batchSize: RUN_DEFAULTS.batchSize },
];

for (const [i, shape] of SHAPES.entries()) {
  test(`--max-cost (${shape.name}): the landed cost never passes the budget; a higher budget finishes the run, judging nothing twice`, async () => {
    const server = await startOfflineServer({ seed: 6 });
    const runId = `budget${i}`;
    const db = tempDb(runId);
    const n = 24;
    const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
    await landRun(db, baseRun(runId), prepared.instances, prepared.responses);
    const workers = await startTestPipeline(env, db, runId, server.url, { limits: { maxConcurrency: 4 } });
    cleanups.push(() => workers.shutdown(), () => server.close());
    const plan = (maxCostUsd: number) => workers.plan(runId, ['review'], { chunkSize: shape.chunkSize, concurrency: shape.concurrency, batchSize: shape.batchSize, maxCostUsd, prices: PRICES });
    const budget = 12;
    const first = await (await startOrAttach(env.client, plan(budget))).handle.result();
    const cost = await db.read((sql) => runCost(sql, runId, PRICES));
    assert.equal(first.stopped, BUDGET_REACHED);
    assert.ok(first.done > 0 && first.done < n && first.pending > 0, `stopped early: ${first.done} done, ${first.pending} pending`);
    assert.ok(cost.pricedUsd <= budget, `landed cost ${cost.pricedUsd.toFixed(2)} <= budget ${budget}`);
    // It stopped because the next instance could not fit, not before: what is left is less than its worst case.
    const perInstance = await db.read((sql) => sql.all(
      `SELECT idx, (sum(prompt_tokens + completion_tokens) * 1000 / 1e6)::DOUBLE AS usd FROM calls WHERE run_id = ? GROUP BY idx`, [runId]));
    const maxInstance = Math.max(...perInstance.map((r) => Number(r.usd)));
    assert.ok(first.nextWorstUsd !== undefined && budget - cost.pricedUsd < first.nextWorstUsd, `left ${(budget - cost.pricedUsd).toFixed(2)} < next worst ${first.nextWorstUsd}`);
    assert.ok(first.nextWorstUsd > maxInstance, `a worst case (${first.nextWorstUsd.toFixed(2)}) is above what any instance really cost (${maxInstance.toFixed(2)})`);
    assert.ok(Math.abs((first.costUsd ?? 0) - cost.pricedUsd) < 1e-6, 'the workflow saw the landed cost');
    const c1 = await counts(db, runId);
    assert.equal(c1.reviews, first.done + first.failed);
    assert.equal(server.stats().byKind.review, await db.read(async (sql) => Number((await sql.one(`SELECT count(*)::INT AS x FROM calls WHERE run_id = ?`, [runId]))!.x)), 'every request is recorded');
    assert.match(runSummary(first, formatRunCost(cost)), /^Stopped \(budget reached\): \d+ scored/);
    assert.match(budgetStopMessage(budget, cost.pricedUsd, first.pending, first.nextWorstUsd), /having spent \$\d+\.\d\d; the next instance could cost up to \$\d\.\d\d \(its prompts \+ max_tokens\), more than the \$\d\.\d\d left; \d+ instances not started/);
    console.log(`budget $${budget} (${shape.name}): stopped after ${first.done} of ${n} at $${cost.pricedUsd.toFixed(2)}; next worst case $${first.nextWorstUsd.toFixed(2)}, one instance ≤ $${maxInstance.toFixed(2)}`);

    // The same run with a higher budget: carries on from where it stopped.
    const second = await (await startOrAttach(env.client, plan(1e6))).handle.result();
    assert.equal(second.stopped, undefined);
    assert.equal(second.resumed, first.done + first.failed);
    assert.equal(second.done + second.failed, n);
    const c2 = await counts(db, runId);
    assert.equal(c2.reviews, n);
    assert.equal(c2.distinct_reviews, n);
    assert.equal(server.stats().byKind.review, n + (await db.read(async (sql) => Number((await sql.one(`SELECT (count(*) - count(DISTINCT idx))::INT AS x FROM calls WHERE run_id = ? AND outcome = 'ok'`, [runId]))!.x))), 'each instance judged once (plus re-asks)');
  });
}

test('--max-cost on an eval run (generate, then review): the review reserves the answer it will quote at the model\'s max_tokens; the budget holds', async () => {
  const server = await startOfflineServer({ seed: 8 });
  const db = tempDb('budget-eval');
  const n = 16;
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
  await landRun(db, baseRun('budget-eval', 'eval'), prepared.instances);
  const workers = await startTestPipeline(env, db, 'budget-eval', server.url, { limits: { maxConcurrency: 4 } });
  cleanups.push(() => workers.shutdown(), () => server.close());
  const prices = { ...PRICES, 'flask-offline-model': { input: 1000, output: 1000 } };
  const budget = 15;
  const first = await (await startOrAttach(env.client, workers.plan('budget-eval', ['generate', 'review'], { maxCostUsd: budget, prices }))).handle.result();
  const cost = await db.read((sql) => runCost(sql, 'budget-eval', prices));
  assert.equal(first.stopped, BUDGET_REACHED);
  assert.ok(first.done > 0 && first.pending > 0, `${first.done} done, ${first.pending} pending`);
  assert.ok(cost.pricedUsd <= budget, `landed cost ${cost.pricedUsd.toFixed(2)} <= budget ${budget}`);
  // An instance's worst case covers both of its calls: more than its generation and its review really cost.
  const perInstance = await db.read((sql) => sql.all(
    `SELECT idx, (sum(prompt_tokens + completion_tokens) * 1000 / 1e6)::DOUBLE AS usd FROM calls WHERE run_id = 'budget-eval' GROUP BY idx`));
  assert.ok(first.nextWorstUsd! > Math.max(...perInstance.map((r) => Number(r.usd))));
  assert.ok(budget - cost.pricedUsd < first.nextWorstUsd!);
  const c = await counts(db, 'budget-eval');
  assert.equal(c.reviews, first.done + first.failed);
});

test('--max-cost: a re-ask that could pass the instance\'s reservation is not made; the instance fails saying so', async () => {
  // Every answer unparseable: without a budget each instance is asked 3 times (maxParseAttempts).
  const server = await startOfflineServer({ seed: 3, malformedRate: 1 });
  const db = tempDb('budget-reask');
  const n = 6;
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
  await landRun(db, baseRun('budget-reask'), prepared.instances, prepared.responses);
  const workers = await startTestPipeline(env, db, 'budget-reask', server.url, { limits: { maxConcurrency: 4 } });
  cleanups.push(() => workers.shutdown(), () => server.close());
  const done = await (await startOrAttach(env.client, workers.plan('budget-reask', ['review'], { maxCostUsd: 1000, prices: PRICES }))).handle.result();
  assert.equal(done.failed, n);
  assert.equal(server.stats().byKind.review, n, 'one call an instance: its re-ask did not fit its reservation');
  const errors = await db.read((sql) => sql.all(`SELECT error FROM reviews WHERE run_id = 'budget-reask'`));
  assert.equal(errors.length, n);
  for (const e of errors) assert.match(String(e.error), /not asked again under --max-cost: another try could cost up to \$\d+\.\d\d, more than the \$\d+\.\d\d left of this instance's reservation; `--retry-failed` with a higher --max-cost/);
});

test('runCost: calls × the price table per role and model; unpriced models are n/a, never guessed', async () => {
  const db = tempDb('cost');
  await db.run(async (sql) => {
    const ins = `INSERT INTO calls (run_id, idx, step, call_no, outcome, prompt_tokens, completion_tokens, resent, endpoint, model) VALUES (?, ?, ?, ?, ?, ?, ?, false, 'e', ?)`;
    await sql.exec(ins, ['r', 1, 'review', 1, 'ok', 1_000_000, 100_000, 'gpt-4o-mini']);
    await sql.exec(ins, ['r', 1, 'review', 2, 'lost', 1_000_000, 0, 'gpt-4o-mini']);
    await sql.exec(ins, ['r', 1, 'generate', 1, 'ok', 500, 500, 'my-local-model']);
  });
  const table = loadPriceTable();
  const c = await db.read((sql) => runCost(sql, 'r', table));
  const judge = c.lines.find((l) => l.role === 'judge')!;
  // gpt-4o-mini: $0.15 in / $0.60 out per 1M; the lost call was billed too.
  assert.equal(judge.calls, 1);
  assert.ok(Math.abs(judge.usd! - (2 * 0.15 + 0.1 * 0.6)) < 1e-9);
  assert.equal(c.totalUsd, undefined);
  assert.deepEqual(c.unpriced, ['my-local-model']);
  assert.match(formatRunCost(c), /^n\/a \(no price for my-local-model; give one with --prices FILE\)/);
  const priced = await db.read((sql) => runCost(sql, 'r', { ...table, models: { ...table.models, 'my-local-model': { input: 0, output: 0, asOf: 'x', source: 'self-hosted' } } }));
  assert.equal(formatRunCost(priced), '$0.36 (judge gpt-4o-mini: $0.36, model my-local-model: $0.00)');
});
