// The call cache (core/cache, core/store/callCache.ts, activities/cacheLookup.ts): a second run of
// the same calls under another name is answered by the state server and sends no request; a
// changed setting sends every call again; only the same judge matches; the summary says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer } from '../../simulator/server.js';
import { startOrAttach } from '../../client/runs.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { loadEvalSet } from '../../core/flask/dataset.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { runCost } from '../../core/cost/runCost.js';
import { cacheSavings } from '../../core/cost/cacheSavings.js';
import { loadPriceTable } from '../../core/cost/pricing.js';
import { runSummary } from '../../client/execute.js';
import type { Database } from '../../core/store/database.js';
import type { RunWorkflowInput, Step } from '../../core/pipeline.js';
import { baseRun, landRun, startTestPipeline, tempDb, temporalForThisFile } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
const cleanups = temporalForThisFile((e) => (env = e));

const scoresOf = (db: Database, runId: string) => db.read(async (sql) =>
  (await sql.all(`SELECT idx, skill, score FROM review_scores WHERE run_id = ? ORDER BY idx, skill`, [runId])).map((r) => `${r.idx}/${r.skill}=${r.score}`));
const cacheRows = (db: Database) => db.read(async (sql) => Number((await sql.one(`SELECT count(*)::INT AS n FROM call_cache`))!.n));

test('review: the same calls under another run name send 0 requests with identical scores; a changed setting sends them all', async () => {
  const server = await startOfflineServer({ seed: 11 });
  const db = tempDb('cache');
  const n = 16;
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
  const workers = await startTestPipeline(env, db, 'cache', server.url, { limits: { maxConcurrency: 4 } });
  cleanups.push(() => workers.shutdown(), () => server.close());
  const reviews = () => server.stats().byKind.review ?? 0;
  const run = async (runId: string, extra: Partial<RunWorkflowInput>) => {
    await landRun(db, baseRun(runId), prepared.instances, prepared.responses);
    const before = server.stats().requests;
    const final = await (await startOrAttach(env.client, workers.plan(runId, ['review'], { batchSize: 8, ...extra }))).handle.result();
    return { final, requests: server.stats().requests - before };
  };

  // FLASK's judge samples at 0.2: cached only with --cache on.
  const first = await run('first', { cache: 'on' });
  assert.equal(first.final.failed, 0);
  assert.equal(first.final.cached, 0);
  assert.ok(first.requests >= n, `${first.requests} requests`);
  assert.equal(await cacheRows(db), n, 'one stored answer per instance (the one that parsed)');

  const second = await run('second', { cache: 'on' });
  assert.equal(second.requests, 0, 'no request reached the endpoint');
  assert.equal(second.final.done, n);
  assert.equal(second.final.calls, 0);
  assert.equal(second.final.cached, n);
  assert.deepEqual(await scoresOf(db, 'second'), await scoresOf(db, 'first'));
  // Recorded as calls: outcome cached, no tokens (cost 0), the original run as provenance.
  const calls = await db.read((sql) => sql.all(`SELECT outcome, prompt_tokens, completion_tokens, cached_from, cache_key FROM calls WHERE run_id = 'second'`));
  assert.equal(calls.length, n);
  for (const c of calls) assert.deepEqual([c.outcome, c.prompt_tokens, c.completion_tokens, c.cached_from], ['cached', 0, 0, 'first']);
  const reviewRows = await db.read((sql) => sql.all(`SELECT DISTINCT status, simulated, served_model FROM reviews WHERE run_id = 'second'`));
  assert.deepEqual(reviewRows, [{ status: 'scored', simulated: true, served_model: 'flask-offline-judge' }]);
  const prices = { 'flask-offline-judge': { input: 1000, output: 1000 } };
  assert.equal((await db.read((sql) => runCost(sql, 'second', prices))).pricedUsd, 0);
  const table = { ...loadPriceTable(), models: { 'flask-offline-judge': { input: 1000, output: 1000, asOf: 'test', source: 'test' } } };
  const saved = await db.read((sql) => cacheSavings(sql, 'second', table));
  const firstCost = (await db.read((sql) => runCost(sql, 'first', prices))).pricedUsd;
  // The first run also paid for re-asks of unparseable answers, which the cache does not hold.
  assert.ok(saved! > 0 && saved! <= firstCost + 1e-9, `saved ${saved} of ${firstCost}`);
  assert.match(runSummary(second.final, '$0.00', 'review', '$1.00'), /; 0 calls, 0 tokens, 16 calls served from the cache \(saved \$1\.00\); cost \$0\.00\./);

  // Another sampling setting is another call: every instance is asked again.
  const before = reviews();
  const changed = await run('changed', { cache: 'on', judgeSettings: { temperature: 0.2, maxTokens: 1000, maxParseAttempts: 3 } });
  assert.equal(changed.final.cached, 0);
  assert.equal(reviews() - before, n, 'each instance judged again');

  // Without --cache, a temperature-0.2 judge is neither answered from nor stored in the cache.
  const stored = await cacheRows(db);
  const auto = await run('auto', {});
  assert.equal(auto.final.cached, 0);
  assert.ok(auto.requests >= n);
  assert.equal(await cacheRows(db), stored);

  // --cache read: uses stored answers, stores none; --cache refresh: asks again, replaces them.
  const read = await run('read', { cache: 'read' });
  assert.equal(read.requests, 0);
  const refresh = await run('refresh', { cache: 'refresh' });
  assert.ok(refresh.requests >= n);
  assert.equal(refresh.final.cached, 0);
  const owners = await db.read((sql) => sql.all(`SELECT run_id, count(*)::INT AS n FROM call_cache GROUP BY run_id ORDER BY run_id`));
  assert.deepEqual(owners, [{ run_id: 'changed', n }, { run_id: 'refresh', n }]);
  const off = await run('off', { cache: 'off' });
  assert.ok(off.requests >= n);
});

test('panel: a judge is answered only from its own stored answers; annotate: temperature-0 stages are cached by default', async () => {
  const server = await startOfflineServer({ seed: 12 });
  const db = tempDb('cache-panel');
  const n = 6;
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
  const workers = await startTestPipeline(env, db, 'cache-panel', server.url, { limits: { maxConcurrency: 4 } });
  cleanups.push(() => workers.shutdown(), () => server.close());
  const settings = { temperature: 0, maxTokens: 1024, maxParseAttempts: 3 };
  const judge = (profile: string) => ({ id: `${workers.judge.id}:${profile}`, endpoint: workers.judge, profile, settings });
  const run = async (runId: string, kind: 'review' | 'annotate', steps: Step[], extra: Partial<RunWorkflowInput>) => {
    await landRun(db, baseRun(runId, kind), kind === 'review' ? prepared.instances : loadEvalSet(DATA_FILES.evalSet).slice(0, n), kind === 'review' ? prepared.responses : []);
    const before = { ...server.stats().byKind };
    const final = await (await startOrAttach(env.client, workers.plan(runId, steps, { batchSize: 8, ...extra }))).handle.result();
    const after = server.stats().byKind;
    return { final, sent: Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)])) };
  };

  await run('flask-only', 'review', ['review'], { judges: [judge('flask')] });
  // A panel of the same judge (served from the cache) and another profile (asked).
  const panel = await run('panel', 'review', ['review'], { judges: [judge('flask'), judge('prometheus')] });
  const served = await db.read((sql) => sql.all(`SELECT judge_id, outcome, count(DISTINCT idx)::INT AS n FROM calls WHERE run_id = 'panel' GROUP BY ALL ORDER BY ALL`));
  assert.ok(served.some((r) => String(r.judge_id).endsWith(':flask') && r.outcome === 'cached' && r.n === n), JSON.stringify(served));
  assert.ok(!served.some((r) => String(r.judge_id).endsWith(':flask') && r.outcome === 'ok'), 'the flask judge sent nothing');
  assert.ok(!served.some((r) => String(r.judge_id).endsWith(':prometheus') && r.outcome === 'cached'), 'the prometheus judge never reuses flask answers');
  assert.equal(panel.sent.review ?? 0, 0, 'no flask review request');
  assert.ok((panel.sent.prometheus ?? 0) >= n, JSON.stringify(panel.sent));

  // Annotation: the domain stage is asked at temperature 0 (FLASK's), the other stages at 0.2.
  const steps: Step[] = ['domain', 'skillset', 'difficulty'];
  const a1 = await run('annotate-1', 'annotate', steps, {});
  assert.equal(a1.final.cached, 0);
  const a2 = await run('annotate-2', 'annotate', steps, {});
  assert.equal(a2.sent.domain ?? 0, 0, 'domain labels came from the cache');
  assert.equal(a2.final.cached, n);
  assert.ok((a2.sent.skillset ?? 0) >= n && (a2.sent.difficulty ?? 0) >= n, JSON.stringify(a2.sent));
});
