// --max-cost: the run stops starting chunks once its landed cost (calls × prices, returned by the
// store after each landing) reaches the budget; the same run with a higher budget carries on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer } from '../../simulator/server.js';
import { startOrAttach } from '../../client/runs.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { runCost, formatRunCost } from '../../core/cost/runCost.js';
import { loadPriceTable } from '../../core/cost/pricing.js';
import { runSummary } from '../../client/execute.js';
import { BUDGET_REACHED } from '../../core/pipeline.js';
import { baseRun, counts, landRun, startTestPipeline, tempDb, temporalForThisFile } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
const cleanups = temporalForThisFile((e) => (env = e));

// $1,000 per 1M tokens: about $1.5 an instance with the offline judge's ~1,500-token prompts.
const PRICES = { 'flask-offline-judge': { input: 1000, output: 1000 } };

test('--max-cost stops the run once its landed cost reaches the budget; a higher budget finishes it, judging nothing twice', async () => {
  const server = await startOfflineServer({ seed: 6 });
  const db = tempDb('budget');
  const n = 24;
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
  await landRun(db, baseRun('budget'), prepared.instances, prepared.responses);
  const workers = await startTestPipeline(env, db, 'budget', server.url, { limits: { maxConcurrency: 4 } });
  cleanups.push(() => workers.shutdown(), () => server.close());
  // One batch, chunks of 4, concurrency 4: ceil(4 / 4) + 2 = 3 chunks in flight at most (batchWorkflow:
  // enough to keep the concurrency busy, plus one landing and one loading).
  const inFlight = 3;
  const plan = (maxCostUsd: number) => workers.plan('budget', ['review'], { chunkSize: 4, concurrency: 4, batchSize: 100, maxCostUsd, prices: PRICES });
  const budget = 12;
  const first = await (await startOrAttach(env.client, plan(budget))).handle.result();
  const cost = await db.read((sql) => runCost(sql, 'budget', PRICES));
  assert.equal(first.stopped, BUDGET_REACHED);
  assert.ok(first.done < n && first.pending > 0, `stopped early: ${first.done} done, ${first.pending} pending`);
  assert.ok(cost.pricedUsd >= budget, `landed cost ${cost.pricedUsd} >= budget ${budget}`);
  // Overshoot: only the chunks in flight when the budget was reached land after it.
  const perInstance = await db.read((sql) => sql.all(
    `SELECT idx, (sum(prompt_tokens + completion_tokens) * 1000 / 1e6)::DOUBLE AS usd FROM calls WHERE run_id = 'budget' GROUP BY idx`));
  const maxInstance = Math.max(...perInstance.map((r) => Number(r.usd)));
  const chunkCost = 4 * maxInstance;
  assert.ok(cost.pricedUsd - budget < inFlight * chunkCost, `overshoot ${(cost.pricedUsd - budget).toFixed(2)} < ${inFlight} chunks (${(inFlight * chunkCost).toFixed(2)})`);
  assert.ok(Math.abs((first.costUsd ?? 0) - cost.pricedUsd) < 1e-6, 'the workflow saw the landed cost');
  const c1 = await counts(db, 'budget');
  assert.equal(c1.reviews, first.done + first.failed);
  const summary = runSummary(first, formatRunCost(cost));
  assert.match(summary, /^Stopped \(budget reached\): \d+ scored/);
  assert.match(summary, /cost \$\d+\.\d\d\.$/);
  console.log(`budget $${budget}: stopped after ${first.done} of ${n} instances at $${cost.pricedUsd.toFixed(2)} (one instance ≤ $${maxInstance.toFixed(2)})`);

  // The same run with a higher budget: carries on from where it stopped.
  const second = await (await startOrAttach(env.client, plan(1e6))).handle.result();
  assert.equal(second.stopped, undefined);
  assert.equal(second.resumed, first.done + first.failed);
  assert.equal(second.done + second.failed, n);
  const c2 = await counts(db, 'budget');
  assert.equal(c2.reviews, n);
  assert.equal(c2.distinct_reviews, n);
  assert.equal(server.stats().byKind.review, n + (await db.read(async (sql) => Number((await sql.one(`SELECT (count(*) - count(DISTINCT idx))::INT AS x FROM calls WHERE run_id = 'budget' AND outcome = 'ok'`))!.x))), 'each instance judged once (plus re-asks)');
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
