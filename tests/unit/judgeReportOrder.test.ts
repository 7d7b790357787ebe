// judge-report's bootstrap CIs are a function of the results, not of the order they landed in:
// a run's reviews land as chunks finish (any order), and the same seed must give the same figures.
// Seen in CI: the order probe's CI moved by 0.01 between two runs of the same data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { judgeReliability, orderProbe } from '../../core/report/judgeReliability.js';
import { DEFAULT_BOOTSTRAP } from '../../core/stats/bootstrap.js';
import type { SkillName } from '../../core/flask/skills.js';
import type { Database } from '../../core/store/database.js';
import { baseRun, landRun, tempDb } from '../helpers/harness.js';
import { landReview } from '../helpers/landReview.js';

const BS = { ...DEFAULT_BOOTSTRAP, resamples: 300 };
const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', 60);

/** A fixed score for (run, instance, skill): 1..5 from a small hash. */
function score(run: string, idx: number, skill: string): number {
  let h = 7;
  for (const ch of `${run}|${idx}|${skill}`) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return 1 + (h % 5);
}

async function landed(name: string, order: 'ascending' | 'descending'): Promise<Database> {
  const db = tempDb(name);
  const instances = order === 'ascending' ? prepared.instances : [...prepared.instances].reverse();
  for (const run of ['given', 'reversed']) await landRun(db, baseRun(run), prepared.instances, prepared.responses);
  await db.run(async (sql) => {
    for (const run of ['given', 'reversed']) {
      for (const i of instances) {
        const scores = Object.fromEntries(i.skills.map((s) => [s, score(run, i.idx, s)])) as Partial<Record<SkillName, number>>;
        assert.ok(await landReview(sql, run, { idx: i.idx, status: 'scored', scores }));
      }
    }
  });
  return db;
}

test('judge-report figures (order probe, reliability) are the same whatever order the reviews landed in', async () => {
  const [a, b] = [await landed('order-asc', 'ascending'), await landed('order-desc', 'descending')];
  const probe = async (db: Database) => db.read((sql) => orderProbe(sql, 'given', 'reversed', BS));
  const pa = await probe(a);
  assert.ok(pa.byPosition.length > 0 && pa.byPosition.every((p) => p.ci !== undefined));
  assert.deepEqual(await probe(b), pa);
  const rel = async (db: Database) => (await db.read((sql) => judgeReliability(sql, 'given', BS))).judges.map((j) => j.skills);
  assert.deepEqual(await rel(b), await rel(a));
});
