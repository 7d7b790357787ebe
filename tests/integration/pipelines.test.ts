// Eval (generate -> review) and annotate (domain -> skillset -> difficulty) runs on the real
// Temporal dev server with the offline server over HTTP; export and re-import of their outputs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer, type OfflineRequestEvent, type OfflineServerOptions } from '../../simulator/server.js';
import { startOrAttach } from '../../client/runs.js';
import { loadEvalSet } from '../../core/flask/dataset.js';
import { DATA_FILES } from '../../core/paths.js';
import { exportAnswers, exportEvalSet } from '../../core/store/exports.js';
import { skillNumbering } from '../../core/prompts/annotation.js';
import { SKILL_NAMES } from '../../core/flask/skills.js';
import { annotationAgreement } from '../../core/report/agreement.js';
import type { Step } from '../../core/pipeline.js';
import { baseRun, counts, landRun, startTemporal, startTestPipeline, tempDb } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startTemporal();
});
after(async () => {
  await env?.teardown();
});

async function runPipeline(name: string, kind: 'eval' | 'annotate', steps: Step[], n: number, serverOpts: OfflineServerOptions, extra: { maxHistoryEvents?: number; batchSize?: number } = {}) {
  const events: OfflineRequestEvent[] = [];
  const server = await startOfflineServer({ ...serverOpts, onRequest: (e) => events.push(e) });
  const db = tempDb(name);
  const instances = loadEvalSet(DATA_FILES.evalSet).slice(0, n);
  await landRun(db, baseRun(name, kind), instances);
  const workers = await startTestPipeline(env, db, name, server.url, { limits: { maxConcurrency: 6 } });
  try {
    const { handle } = await startOrAttach(env.client, workers.plan(name, steps, { batchSize: extra.batchSize ?? 12, maxHistoryEvents: extra.maxHistoryEvents }));
    const final = await handle.result();
    const description = await handle.describe();
    return { db, final, events, server, instances, description };
  } finally {
    await workers.shutdown();
    await server.close();
  }
}

test('eval: one response and one review per instance, pipelined (reviews start before generation ends)', async () => {
  const r = await runPipeline('eval-30', 'eval', ['generate', 'review'], 30, { seed: 4, latencyMs: 30, emptyAnswerRate: 0.15, truncatedAnswerRate: 0.3 });
  assert.equal(r.final.done + r.final.failed, 30);
  const c = await counts(r.db, 'eval-30');
  assert.equal(c.responses, 30);
  assert.equal(c.reviews, 30);
  assert.equal(c.scores, c.expected_scores);
  const ok = r.events.filter((e) => e.status === 200);
  const firstReview = Math.min(...ok.filter((e) => e.kind === 'review').map((e) => e.at));
  const lastAnswer = Math.max(...ok.filter((e) => e.kind === 'model').map((e) => e.at));
  assert.ok(firstReview < lastAnswer, 'no barrier between the stages');
  assert.equal(ok.filter((e) => e.kind === 'model').length, 30, 'each answer generated once');
  // Empty and truncated answers are data: stored with their finish reason and judged.
  const rows = await r.db.run((sql) => sql.all(`SELECT finish_reason, count(*)::INT AS n, sum(CASE WHEN text = '' THEN 1 ELSE 0 END)::INT AS empty FROM responses WHERE run_id = 'eval-30' GROUP BY 1 ORDER BY 1`));
  assert.ok(rows.some((x) => x.finish_reason === 'length'), JSON.stringify(rows));
  assert.ok(rows.reduce((a, x) => a + Number(x.empty), 0) > 0, 'some empty answers');
  // Export equals what was stored.
  const exported = await r.db.run((sql) => exportAnswers(sql, 'eval-30'));
  const stored = await r.db.run((sql) => sql.all(`SELECT idx, text, model_id FROM responses WHERE run_id = 'eval-30' ORDER BY idx`));
  assert.deepEqual(exported.map((e) => [e.question_id, e.text, e.model_id]).sort((a, b) => Number(a[0]) - Number(b[0])), stored.map((s) => [Number(s.idx), s.text, s.model_id]));
  assert.deepEqual(Object.keys(exported[0]!), ['question_id', 'text', 'model_id']);
});

test('a long run continues-as-new and still lands every instance once', async () => {
  const r = await runPipeline('can-60', 'eval', ['generate'], 60, { seed: 5 }, { batchSize: 4, maxHistoryEvents: 40 });
  assert.equal(r.final.done, 60);
  assert.notEqual(r.description.runId, r.description.raw.workflowExecutionInfo?.firstRunId, 'the parent continued as new');
  assert.ok(r.description.historyLength < 200, `parent history ${r.description.historyLength}`);
  const c = await counts(r.db, 'can-60');
  assert.equal(c.responses, 60);
});

test('annotate: three stages per instance; the export is an evaluation set that review accepts', async () => {
  const r = await runPipeline('annotate-24', 'annotate', ['domain', 'skillset', 'difficulty'], 24, { seed: 6, latencyMs: 20 });
  assert.equal(r.final.done, 24);
  const { lines, incomplete } = await r.db.run((sql) => exportEvalSet(sql, 'annotate-24'));
  assert.equal(lines.length, 24);
  assert.deepEqual(incomplete, []);
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'flask-export-')), 'evalset.jsonl');
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const reread = loadEvalSet(file); // exactly what review / eval read
  assert.equal(reread.length, 24);
  assert.ok(reread.every((i) => i.skills.length === 3 && i.domains.length >= 1 && i.difficulty !== null));
  assert.deepEqual(Object.keys(lines[0]!), ['idx', 'instruction', 'answer', 'task', 'skill', 'domain', 'difficulty']);

  // The skill indices were mapped back with the numbering shown for that instance (seed 7 in baseRun).
  const rows = await r.db.run((sql) => sql.all(`SELECT idx, label, numbering, raw_text FROM annotations WHERE run_id = 'annotate-24' AND stage = 'skillset' ORDER BY idx`));
  let shuffled = 0;
  for (const row of rows) {
    const numbering = JSON.parse(String(row.numbering)) as string[];
    assert.deepEqual(numbering, skillNumbering(7, Number(row.idx)));
    if (numbering.join() !== skillNumbering(0, 0).join()) shuffled++;
    const indices = [...String(row.raw_text).matchAll(/\[([\d,\s]+)\]/g)].pop()![1]!.split(',').map((x) => Number(x.trim()));
    assert.deepEqual(JSON.parse(String(row.label)), indices.map((i) => numbering[i - 1]));
    assert.ok((JSON.parse(String(row.label)) as string[]).every((s) => (SKILL_NAMES as readonly string[]).includes(s)));
  }
  assert.ok(shuffled >= 20, 'numberings were shuffled');

  // The input was the evaluation set: agreement with its own labels is computed over all 24.
  const a = await r.db.run((sql) => annotationAgreement(sql, 'annotate-24'));
  assert.equal(a.skillset.compared, 24);
  assert.equal(a.domain.compared, 24);
  assert.ok(a.difficulty.compared >= 23);
  for (const x of [a.domain.exactMatch, a.skillset.meanOverlap, a.difficulty.withinOne]) assert.ok(x >= 0 && x <= 1);
});

test('annotate: answers that never parse are retried, then recorded as failed with reason and raw text', async () => {
  const r = await runPipeline('annotate-bad', 'annotate', ['domain', 'skillset', 'difficulty'], 3, { seed: 8, malformedRate: 1 });
  assert.equal(r.final.failed, 3);
  const rows = await r.db.run((sql) => sql.all(`SELECT stage, status, error, raw_text, attempts FROM annotations WHERE run_id = 'annotate-bad' ORDER BY idx`));
  assert.equal(rows.length, 3, 'the later stages are not attempted without a domain');
  for (const row of rows) {
    assert.equal(row.stage, 'domain');
    assert.equal(row.status, 'failed');
    assert.equal(row.attempts, 3);
    assert.match(String(row.error), /unparseable answer after 3 attempt\(s\)/);
    assert.ok(String(row.raw_text).length > 0);
  }
  assert.equal(r.events.filter((e) => e.status === 200).length, 9);
  const { lines, incomplete } = await r.db.run((sql) => exportEvalSet(sql, 'annotate-bad'));
  assert.equal(lines.length, 0);
  assert.equal(incomplete.length, 3);
});
