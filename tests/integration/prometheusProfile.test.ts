// The Prometheus judge profile end to end: real Temporal dev server, real DuckDB, the offline
// server's Prometheus grader over real HTTP. One call per skill, each parsed from "[RESULT] n"
// with the same re-ask bound as FLASK's judge, every call recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer } from '../../simulator/server.js';
import { startOrAttach } from '../../client/runs.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { judgeProfile } from '../../core/judges/index.js';
import { createOrMatchRun } from '../../core/store/runs.js';
import { judgeProfileRecord } from '../../client/commands/review.js';
import { baseRun, counts, landRun, startTestPipeline, tempDb, temporalForThisFile } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
const cleanups = temporalForThisFile((e) => (env = e));

async function prometheusRun(name: string, n: number, server: Awaited<ReturnType<typeof startOfflineServer>>) {
  const db = tempDb(name);
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
  await landRun(db, { ...baseRun(name), ...judgeProfileRecord('prometheus') }, prepared.instances, prepared.responses);
  const workers = await startTestPipeline(env, db, name, server.url, { limits: { maxConcurrency: 4 } });
  cleanups.push(() => workers.shutdown(), () => server.close());
  const input = workers.plan(name, ['review'], {
    judgeProfile: 'prometheus', judgeSettings: { temperature: 1, maxTokens: 1024, maxParseAttempts: 3 }, batchSize: 6,
  });
  return { db, prepared, workers, input };
}

test('prometheus profile: one call per skill, each "[RESULT] n" parsed, scores land with the profile recorded', async () => {
  const server = await startOfflineServer({ seed: 3 });
  const r = await prometheusRun('prom-clean', 8, server);
  const t0 = Date.now();
  const final = await (await startOrAttach(env.client, r.input)).handle.result();
  const ms = Date.now() - t0;
  assert.equal(final.done, 8);
  assert.equal(final.failed, 0);
  const skillsPer = r.prepared.instances.map((i) => new Set(i.skills).size);
  const expectedCalls = skillsPer.reduce((a, b) => a + b, 0);
  assert.ok(skillsPer.every((k) => k === 3), `FLASK instances score 3 skills (got ${skillsPer.join(',')})`);
  assert.equal(final.calls, expectedCalls, 'one call per skill');
  assert.equal(server.stats().byKind.prometheus, expectedCalls, 'the offline server saw Prometheus prompts only');
  assert.equal(server.stats().byKind.review ?? 0, 0);
  const c = await counts(r.db, 'prom-clean');
  assert.equal(c.scored, 8);
  assert.equal(c.scores, c.expected_scores, 'one score row per (instance, skill)');
  const rows = await r.db.run((sql) => sql.all(
    `SELECT v.idx, v.judge_profile, v.attempts, v.raw_text, (SELECT count(*) FROM calls c WHERE c.run_id = v.run_id AND c.idx = v.idx AND c.step = 'review')::INT AS calls,
            (SELECT list(s.score ORDER BY s.skill) FROM review_scores s WHERE s.run_id = v.run_id AND s.idx = v.idx) AS scores
     FROM reviews v WHERE v.run_id = 'prom-clean'`));
  for (const row of rows) {
    assert.equal(row.judge_profile, 'prometheus');
    assert.equal(row.calls, 3);
    assert.equal(Number(row.attempts), 3);
    assert.equal((String(row.raw_text).match(/\[RESULT\]/g) ?? []).length, 3, 'the three answers are kept verbatim');
    for (const s of row.scores as number[]) assert.ok(Number.isInteger(s) && s >= 1 && s <= 5, `score ${s}`);
  }
  // The scores are exactly what the judge wrote: parse the kept answers again.
  const profile = judgeProfile('prometheus');
  const one = await r.db.run((sql) => sql.one(`SELECT raw_text FROM reviews WHERE run_id = 'prom-clean' ORDER BY idx LIMIT 1`));
  const parts = String(one!.raw_text).split(/\n\n(?=\[[a-zA-Z ]+\]\n)/);
  assert.equal(parts.length, 3);
  for (const part of parts) assert.ok(profile.parse(part.replace(/^\[([^\]]+)\]\n/, ''), part.match(/^\[([^\]]+)\]/)![1] as never).ok);
  // The scores view (report's source) reads them unchanged.
  const viewRows = await r.db.run((sql) => sql.one(`SELECT count(*)::INT AS n FROM scores WHERE run_id = 'prom-clean'`));
  assert.equal(viewRows!.n, c.scores);
  console.log(`prometheus profile: 8 instances, ${final.calls} calls, ${ms} ms`);
});

test('prometheus profile: malformed "[RESULT]" outputs are asked again, then recorded failed with the reason and the text', async () => {
  const server = await startOfflineServer({ seed: 4, malformedRate: 0.45 });
  const r = await prometheusRun('prom-malformed', 10, server);
  const final = await (await startOrAttach(env.client, r.input)).handle.result();
  assert.equal(final.done + final.failed, 10);
  const rows = await r.db.run((sql) => sql.all(
    `SELECT v.idx, v.status, v.error, v.raw_text, v.attempts, (SELECT count(*) FROM calls c WHERE c.run_id = v.run_id AND c.idx = v.idx AND c.step = 'review')::INT AS calls
     FROM reviews v WHERE v.run_id = 'prom-malformed'`));
  assert.equal(rows.length, 10);
  assert.ok(server.stats().malformed > 0);
  const scored = rows.filter((x) => x.status === 'scored');
  const failed = rows.filter((x) => x.status === 'failed');
  assert.ok(scored.some((x) => Number(x.attempts) > 3), 'a malformed answer was asked again and then parsed');
  assert.ok(failed.length > 0, 'some instance ran out of re-asks');
  for (const x of scored) {
    assert.ok(Number(x.attempts) >= 3 && Number(x.attempts) <= 9);
    assert.equal(x.calls, Number(x.attempts), 'every call recorded');
  }
  for (const x of failed) {
    assert.match(String(x.error), /^unparseable answer after 3 attempt\(s\) \(call [123] of 3\): [A-Za-z ]+: /, String(x.error));
    assert.ok(String(x.raw_text).length > 0, 'the last answer is kept');
    assert.equal(x.calls, Number(x.attempts));
  }
  const c = await counts(r.db, 'prom-malformed');
  assert.equal(c.scores, c.expected_scores, 'failed instances land no partial scores');
});

test('a run records its judge profile; resuming it with another profile is refused', async () => {
  const db = tempDb('prom-record');
  await db.run((sql) => createOrMatchRun(sql, { ...baseRun('p'), ...judgeProfileRecord('prometheus') }));
  const stored = await db.run((sql) => sql.one(`SELECT judge_profile, prompt_template_sha256 FROM runs WHERE run_id = 'p'`));
  assert.deepEqual({ ...stored }, { judge_profile: 'prometheus', prompt_template_sha256: judgeProfile('prometheus').hash });
  assert.notEqual(judgeProfile('prometheus').hash, judgeProfile('flask').hash);
  await assert.rejects(db.run((sql) => createOrMatchRun(sql, { ...baseRun('p'), ...judgeProfileRecord('flask') })), /promptTemplateSha256/);
});
