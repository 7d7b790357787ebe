// Exact judge settings: every sampling setting a judge profile defines (Prometheus's top_p 0.9)
// and the seed when given reach the endpoint, through the real pipeline and the Batch API body;
// each review records the template it was judged with (FLASK's prompt 1 when there is no reference).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer, type OfflineRequestEvent } from '../../simulator/server.js';
import { startOrAttach } from '../../client/runs.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { judgeSettings } from '../../client/commands/review.js';
import { chatBody } from '../../core/provider/openaiProvider.js';
import { stepRequest } from '../../activities/stepRequests.js';
import { InputError } from '../../core/errors.js';
import { baseRun, landRun, startTestPipeline, tempDb, temporalForThisFile } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
const cleanups = temporalForThisFile((e) => (env = e));

test('judge settings: the profile\'s top_p (prometheus 0.9, flask none), --judge-top-p and --judge-seed; bad values refused', () => {
  assert.deepEqual(judgeSettings({}, 'prometheus'), { temperature: 1, maxTokens: 1024, topP: 0.9, maxParseAttempts: 3 });
  assert.deepEqual(judgeSettings({}, 'flask'), { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3 });
  assert.deepEqual(judgeSettings({ 'judge-top-p': '0.5', 'judge-seed': '7' }, 'flask'), { temperature: 0.2, maxTokens: 1024, topP: 0.5, seed: 7, maxParseAttempts: 3 });
  assert.throws(() => judgeSettings({ 'judge-top-p': '1.5' }, 'flask'), (e: unknown) => e instanceof InputError && /--judge-top-p must be in \(0, 1\]/.test(e.message));
  // The Batch API line carries the same fields as a direct call.
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', 1);
  const i = prepared.instances[0];
  const asked = stepRequest('review', { idx: i!.idx, instruction: i!.instruction, answer: i!.answer, skills: i!.skills, response: 'x' },
    { ...judgeSettings({ 'judge-seed': '3' }, 'prometheus'), judgeProfile: 'prometheus' }, 7);
  assert.ok(!('cannot' in asked));
  const body = chatBody('m', asked.calls[0]!.request);
  assert.deepEqual({ temperature: body.temperature, top_p: body.top_p, seed: body.seed, max_tokens: body.max_tokens }, { temperature: 1, top_p: 0.9, seed: 3, max_tokens: 1024 });
});

test('through the pipeline, every Prometheus judge request carries temperature 1, top_p 0.9, max_tokens 1024 and the seed; a flask judge request no top_p', async () => {
  const seen: OfflineRequestEvent[] = [];
  const server = await startOfflineServer({ seed: 4, onRequest: (e) => seen.push(e) });
  const db = tempDb('judge-sampling');
  const n = 4;
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
  const w = await startTestPipeline(env, db, 'judge-sampling', server.url);
  cleanups.push(() => w.shutdown(), () => server.close());
  // The flask run's first instance has no reference answer: FLASK's prompt 1 judges it, and each review names its template.
  const noRef = prepared.instances.map((i, k) => (k === 0 ? { ...i, answer: '' } : i));
  for (const [run, profile] of [['prom', 'prometheus'], ['fl', 'flask']] as const) {
    await landRun(db, baseRun(run), profile === 'flask' ? noRef : prepared.instances, prepared.responses);
    const settings = { ...judgeSettings({ 'judge-seed': '11' }, profile), judgeProfile: profile };
    const final = await (await startOrAttach(env.client, w.plan(run, ['review'], { judgeProfile: profile, judgeSettings: settings }))).handle.result();
    assert.equal(final.done + final.failed, n);
  }
  const prom = seen.filter((e) => e.status === 200 && e.kind === 'prometheus');
  const flask = seen.filter((e) => e.status === 200 && e.kind === 'review');
  assert.ok(prom.length >= 3 * n && flask.length >= n, `requests seen: ${prom.length} prometheus, ${flask.length} flask`);
  for (const e of prom) assert.deepEqual(e.sampling, { temperature: 1, top_p: 0.9, seed: 11, max_tokens: 1024 });
  for (const e of flask) assert.deepEqual(e.sampling, { temperature: 0.2, seed: 11, max_tokens: 1024 });
  const templates = await db.read((sql) => sql.all(`SELECT run_id, idx, review_template FROM reviews ORDER BY run_id, idx`));
  for (const t of templates) {
    const want = t.run_id === 'prom' ? 'prometheus/ABSOLUTE_PROMPT' : t.idx === prepared.instances[0]!.idx ? 'flask/prompt_id=1' : 'flask/prompt_id=2';
    assert.equal(t.review_template, want, `${t.run_id} ${t.idx}`);
  }
  assert.equal(templates.length, 2 * n);
});
