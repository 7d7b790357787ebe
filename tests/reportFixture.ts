/**
 * A small results file for the report tests: three review runs whose figures are computed by
 * hand in the tests. Instance 3 of run "fa" and instance 4 of "fb" failed; "fc" has 2 instances.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Database } from '../core/store/database.js';
import { createOrMatchRun, type RunRecord } from '../core/store/runs.js';
import { landInstances, landResponses } from '../core/store/instances.js';
import { landReview, type ReviewFixture as ReviewRow } from './helpers/landReview.js';
import type { EvalInstance } from '../core/flask/dataset.js';

export const record = (runId: string, simulated = true): RunRecord => ({
  runId, kind: 'review', simulated, datasetPath: '/data/flask_evaluation.jsonl', datasetSha256: 'ab'.repeat(32), answersPath: null, answersSha256: null,
  modelId: `model-${runId}`, modelEndpoint: null, modelSettings: null, judgeModel: 'judge-x', judgeEndpoint: 'http://judge.example:8000/v1',
  judgeSettings: { temperature: 0.2, maxTokens: 1024 }, promptTemplateSha256: 'cd'.repeat(32), projectVersion: 'test', summary: {},
});

const inst = (idx: number, skills: string[], domains: string[], difficulty: string | null): EvalInstance => ({
  idx, instruction: `Question ${idx}: ${'explain '.repeat(idx)}`, answer: `reference ${idx}`, task: idx % 2 ? 'Self-instruct' : 'GSM8K',
  skills: skills as EvalInstance['skills'], domains, unlabelledDomain: domains.length === 0, difficulty: difficulty as EvalInstance['difficulty'], extra: {},
});

export const INSTANCES = [
  inst(1, ['Readability', 'Logical Correctness'], ['Math', 'Coding'], 'simple lifestyle knowledge'),
  inst(2, ['Readability', 'Factuality'], ['Math'], 'major level knowledge'),
  inst(3, ['Readability'], ['History'], null),
  inst(4, ['Logical Correctness'], [], 'simple lifestyle knowledge'),
  inst(5, ['Harmlessness', 'Readability'], ['Social Science', 'Natural Science'], 'expert level knowledge'),
  inst(6, ['Readability', 'Conciseness', 'Comprehension'], ['Culture'], 'formal education knowledge'),
];

type Scores = ReviewRow['scores'];
const review = (idx: number, scores: Scores | 'failed'): ReviewRow => ({
  idx, status: scores === 'failed' ? 'failed' : 'scored', judgeModel: 'judge-x',
  rawText: scores === 'failed' ? 'I cannot score this.' : `Feedback for ${idx}.\n${JSON.stringify(scores)}`,
  error: scores === 'failed' ? 'no score dictionary found' : null, scores: scores === 'failed' ? {} : scores,
  promptTokens: 100 + idx, completionTokens: 20, attempts: scores === 'failed' ? 3 : 1,
});

const REVIEWS: Record<string, Record<number, Scores | 'failed'>> = {
  fa: {
    1: { Readability: 4, 'Logical Correctness': 2 },
    2: { Readability: 5, Factuality: 'N/A' },
    3: 'failed',
    4: { 'Logical Correctness': 3 },
    5: { Harmlessness: 5, Readability: 3 },
    6: { Readability: 2, Conciseness: 4, Comprehension: 1 },
  },
  fb: {
    1: { Readability: 5, 'Logical Correctness': 3 },
    2: { Readability: 5, Factuality: 4 },
    3: { Readability: 1 },
    4: 'failed',
    5: { Harmlessness: 4, Readability: 4 },
    6: { Readability: 3, Conciseness: 'N/A', Comprehension: 2 },
  },
  fc: {
    1: { Readability: 3, 'Logical Correctness': 3 },
    5: { Harmlessness: 2, Readability: 2 },
  },
};

/** Creates the fixture file and returns its path. */
export async function buildReportFixture(): Promise<string> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'flask-report-')), 'results.duckdb');
  const db = new Database(file);
  for (const [runId, reviews] of Object.entries(REVIEWS)) {
    const idxs = Object.keys(reviews).map(Number);
    await db.run(async (sql) => {
      await createOrMatchRun(sql, record(runId, runId !== 'fc'));
      await landInstances(sql, runId, INSTANCES.filter((i) => idxs.includes(i.idx)));
      await landResponses(sql, runId, idxs.map((idx) => ({ idx, modelId: `model-${runId}`, text: `answer ${idx} of ${runId}\nsecond line`, source: 'imported' as const })));
    });
    const { simulated, judgeEndpoint } = record(runId, runId !== 'fc');
    for (const idx of idxs) await db.run((sql) => landReview(sql, runId, review(idx, reviews[idx]!), { simulated, baseUrl: judgeEndpoint ?? undefined }));
  }
  // One process owns a results file while it has it open: close it before tests hand the
  // file to other processes.
  await db.close();
  return file;
}
