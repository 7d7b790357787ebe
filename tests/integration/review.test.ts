// Review runs on the real Temporal dev server, with the offline judge over real HTTP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer, requestContentHash, type OfflineRequestEvent } from '../../simulator/server.js';
import { startOrAttach, followRun } from '../../client/runs.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { renderReviewPrompt } from '../../core/prompts/review.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import type { Progress } from '../../core/pipeline.js';
import { readProvenance } from '../../core/report/provenance.js';
import { runHeaderLine } from '../../core/report/reportText.js';
import { baseRun, counts, landRun, startTemporal, startTestPipeline, tempDb } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startTemporal();
});
after(async () => {
  await env?.teardown();
});

/** Review `n` published davinci_003 answers (it has empty responses, a quirk worth judging). */
async function reviewRun(name: string, n: number, server: Awaited<ReturnType<typeof startOfflineServer>>, opts: { concurrency?: number; maxAttempts?: number } = {}) {
  const db = tempDb(name);
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('davinci_003'), 'davinci_003', n);
  await landRun(db, baseRun(name), prepared.instances, prepared.responses);
  const workers = await startTestPipeline(env, db, name, server.url, { limits: { maxConcurrency: opts.concurrency ?? 4 } });
  const input = workers.plan(name, ['review'], { batchSize: 7, maxAttempts: opts.maxAttempts ?? 12 });
  const start = () => startOrAttach(env.client, input);
  return { db, prepared, workers, start, input };
}

test('a review run lands every instance exactly once; the same run name again does not start over', async () => {
  const server = await startOfflineServer({ seed: 1 });
  const r = await reviewRun('exactly-once', 24, server);
  const { handle, attached } = await r.start();
  assert.equal(attached, false);
  const seen: Progress[] = [];
  const final = await followRun(env.client, handle, (p) => seen.push(p), 100);
  assert.deepEqual({ total: final.total, done: final.done, failed: final.failed, pending: final.pending, resumed: final.resumed }, { total: 24, done: 24, failed: 0, pending: 0, resumed: 0 });
  assert.ok(final.tokens > 0 && final.calls >= 24);
  // The progress query moved forward and ended where the run did.
  assert.ok(seen.length >= 2, `${seen.length} progress reports`);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.done + seen[i]!.failed >= seen[i - 1]!.done + seen[i - 1]!.failed, 'progress never goes back');
  assert.deepEqual(seen[seen.length - 1], final);
  assert.equal(final.tokens, await r.db.run(async (sql) => Number((await sql.one(`SELECT sum(prompt_tokens + completion_tokens)::INT AS t FROM reviews WHERE run_id = 'exactly-once'`))!.t)), 'tokens in progress = tokens landed');
  const c = await counts(r.db, 'exactly-once');
  assert.equal(c.reviews, 24);
  assert.equal(c.distinct_reviews, 24);
  assert.equal(c.scored, 24);
  assert.equal(c.scores, c.expected_scores, 'one score row per (review, skill)');
  const judged = server.stats().byKind.review;

  // Second invocation with the same run name: a new execution that finds everything landed.
  const again = await r.start();
  const second = await again.handle.result();
  assert.equal(second.resumed, 24);
  assert.equal(second.calls, 0);
  assert.equal(server.stats().byKind.review, judged, 'no instance judged twice');
  assert.deepEqual(await counts(r.db, 'exactly-once'), c);
  await r.workers.shutdown();
  await server.close();
});

test('429s (Retry-After honoured), 5xx and malformed judge outputs: every instance ends scored or failed with a reason', async () => {
  const events: OfflineRequestEvent[] = [];
  const server = await startOfflineServer({
    // No x-ratelimit headers: the client cannot pace itself from them, so 429s do happen.
    seed: 2, requestsPerMinute: 6, rateWindowMs: 1500, rateLimitHeaders: false, serverErrorRate: 0.2, malformedRate: 0.35, onRequest: (e) => events.push(e),
  });
  const r = await reviewRun('storm', 16, server, { concurrency: 6 });
  const { handle } = await r.start();
  const final = await handle.result();
  assert.equal(final.done + final.failed, 16);
  const c = await counts(r.db, 'storm');
  assert.equal(c.reviews, 16);
  assert.equal(c.scored! + c.failed!, 16);
  assert.equal(c.scores, c.expected_scores);
  const stats = server.stats();
  assert.ok(stats.status429 > 0, 'the rate limit was hit');
  assert.ok(stats.status5xx > 0, 'server errors happened');
  assert.ok(stats.malformed > 0, 'malformed outputs happened');
  // Failed reviews keep the reason and the judge's raw text; scored ones parsed on some attempt.
  const rows = await r.db.run((sql) => sql.all(`SELECT status, error, raw_text, attempts FROM reviews WHERE run_id = 'storm'`));
  for (const row of rows) {
    if (row.status === 'failed') {
      assert.match(String(row.error), /unparseable|retry|rate|answered/);
    } else {
      assert.equal(row.error, null);
      assert.ok(Number(row.attempts) >= 1 && Number(row.attempts) <= 3);
    }
  }
  assert.ok(rows.some((x) => Number(x.attempts) > 1), 'some malformed answer was asked again');
  // Retry-After: after a 429 telling to wait N s, the same request did not come back sooner.
  const byContent = new Map<string, OfflineRequestEvent[]>();
  for (const e of events) byContent.set(e.contentHash, [...(byContent.get(e.contentHash) ?? []), e]);
  let checked = 0;
  for (const list of byContent.values()) {
    for (let i = 0; i + 1 < list.length; i++) {
      if (list[i]!.status === 429 && list[i]!.retryAfterSec) {
        assert.ok(list[i + 1]!.at - list[i]!.at >= list[i]!.retryAfterSec! * 1000 - 50, `retried ${list[i + 1]!.at - list[i]!.at} ms after a Retry-After of ${list[i]!.retryAfterSec} s`);
        checked++;
      }
    }
  }
  assert.ok(checked > 0, 'some 429 was followed by a retry of the same request');
  // Each instance's request content maps to exactly one landed review.
  const prompt = renderReviewPrompt(r.prepared.instances[0]!, r.prepared.responses[0]!.text);
  assert.ok(byContent.has(requestContentHash(prompt)), 'the judge received FLASK\'s rendered prompt');
  await r.workers.shutdown();
  await server.close();
});

test('a wrong API key fails the run fast with a clear message, and nothing is recorded as judged', async () => {
  const server = await startOfflineServer({ apiKey: 'the-right-key' });
  const r = await reviewRun('wrong-key', 5, server);
  const { handle } = await r.start();
  await assert.rejects(handle.result(), (e: Error) => {
    assert.match(causeChain(e), /rejected the API key \(401\).*OPENAI_API_KEY/);
    return true;
  });
  const c = await counts(r.db, 'wrong-key');
  assert.equal(c.scored, 0);
  assert.equal(c.failed, 0, 'a run-wide error is not blamed on instances');
  // Non-retryable: one call per instance in flight (two chunks of 4), no retries.
  assert.ok(server.stats().requests <= 8, `${server.stats().requests} requests`);
  await r.workers.shutdown();
  await server.close();
});

function causeChain(e: unknown): string {
  const parts: string[] = [];
  for (let x = e as { message?: string; cause?: unknown } | undefined; x; x = x.cause as typeof x) parts.push(String(x.message));
  return parts.join(' <- ');
}

test('failed reviews keep their provenance (served model, simulated), and the banner names the simulated role', async () => {
  // Every answer malformed: every review fails after its parse attempts, each answered by the offline judge.
  const server = await startOfflineServer({ seed: 3, malformedRate: 1 });
  const r = await reviewRun('allfail-prov', 3, server);
  const { handle } = await r.start();
  const final = await handle.result();
  assert.deepEqual([final.done, final.failed], [0, 3]);
  const rows = await r.db.run((sql) => sql.all(`SELECT status, served_model, simulated, endpoint FROM reviews WHERE run_id = 'allfail-prov' ORDER BY idx`));
  assert.equal(rows.length, 3);
  for (const row of rows) {
    assert.equal(row.status, 'failed');
    assert.equal(row.served_model, 'flask-offline-judge', 'the model that answered, though its answer did not parse');
    assert.equal(row.simulated, true, 'a failed review by the simulated judge is simulated');
  }
  const [prov] = await r.db.read((sql) => readProvenance(sql, ['allfail-prov']));
  assert.deepEqual(prov!.simulatedRoles, ['judge'], 'the responses were imported: only the judge was simulated');
  assert.match(runHeaderLine(prov!), /\[SIMULATED judge: the offline endpoint, not a real model\]$/);
  assert.doesNotMatch(runHeaderLine(prov!), /\[SIMULATED: /);
  await r.workers.shutdown();
  await server.close();
});
