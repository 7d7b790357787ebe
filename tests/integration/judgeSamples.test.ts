// Repeated judge samples (--judge-samples K) and the judge reliability report: every sample stored,
// reports on the per-instance mean, the judge's own variance measured (zero for a deterministic
// judge, positive for a noisy one), self-consistency statistics against hand computation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer } from '../../simulator/server.js';
import { startOrAttach } from '../../client/runs.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { sdAndIcc, selfConsistency } from '../../core/stats/reliability.js';
import { judgeReliability, sampleSpread } from '../../core/report/judgeReliability.js';
import { loadRunFigures } from '../../core/report/load.js';
import { judgeReportText } from '../../client/commands/judgeReport.js';
import { meanOfSamples } from '../../activities/stepRequests.js';
import { DEFAULT_BOOTSTRAP } from '../../core/stats/bootstrap.js';
import { skillKey, type SkillName } from '../../core/flask/skills.js';
import { baseRun, landRun, startTestPipeline, tempDb, temporalForThisFile } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
const cleanups = temporalForThisFile((e) => (env = e));
const BS = { ...DEFAULT_BOOTSTRAP, resamples: 300 };

test('within-instance SD and ICC(1) equal the hand computation; the mean of samples leaves N/A out', () => {
  // Means 2, 13/3, 2; grand mean 25/9. SSW = 2 + 2/3 + 0 over 6 df: MSW = 4/9. SSB = 3 x 294/81 = 98/9
  // over 2 df: MSB = 49/9. k0 = 3. ICC = (49/9 - 4/9) / (49/9 + 2 x 4/9) = 45/57.
  const r = sdAndIcc([[1, 2, 3], [4, 4, 5], [2, 2, 2]]);
  assert.ok(Math.abs(r.sdWithin! - 2 / 3) < 1e-12);
  assert.ok(Math.abs(r.icc! - 45 / 57) < 1e-12);
  // Identical samples: no within variance, ICC 1; groups of one sample are left out.
  assert.deepEqual(sdAndIcc([[3, 3], [5, 5], [1]]), { sdWithin: 0, icc: 1 });
  const c = selfConsistency([[1, 2, 3], [4, 4, 5], [2, 2, 2], [3, 4, 3]], { ...BS, level: 0.95 }, 'x');
  assert.equal(c.instances, 4);
  assert.ok(c.sdWithinCi![0] <= c.sdWithin! && c.sdWithin! <= c.sdWithinCi![1]);
  assert.deepEqual(meanOfSamples([{ A: 4, B: 'N/A', C: 'N/A' }, { A: 5, B: 2, C: 'N/A' }, { A: 3, B: 3, C: 'N/A' }]), { A: 4, B: 2.5, C: 'N/A' });
});

test('--judge-samples 3: three calls an instance in its chunk, every sample stored, scores are the per-instance means; a noisy judge shows its variance, a deterministic one none', async () => {
  const n = 30;
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
  const results: Record<string, Awaited<ReturnType<typeof judgeReliability>>> = {};
  for (const [name, bias] of [['noisy', { sampleSd: 0.8 }], ['steady', undefined]] as const) {
    const server = await startOfflineServer({ seed: 9, ...(bias ? { judgeBias: bias } : {}) });
    const db = tempDb(`samples-${name}`);
    const w = await startTestPipeline(env, db, `samples-${name}`, server.url, { limits: { maxConcurrency: 8 } });
    cleanups.push(() => w.shutdown(), () => server.close());
    await landRun(db, baseRun(name), prepared.instances, prepared.responses);
    const final = await (await startOrAttach(env.client, w.plan(name, ['review'], {
      judgeSettings: { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3, samples: 3 }, chunkSize: 8,
    }))).handle.result();
    assert.equal(final.done, n);
    assert.ok(final.calls >= 3 * n, `three calls an instance (${final.calls})`);

    // Every sample of every (instance, skill); the review's score is their mean.
    const rows = await db.read((sql) => sql.all(
      `SELECT s.idx, s.skill, s.score, (SELECT list(x.score ORDER BY x.sample) FROM review_sample_scores x WHERE x.run_id = s.run_id AND x.idx = s.idx AND x.skill = s.skill) AS samples,
              (SELECT v.samples FROM reviews v WHERE v.run_id = s.run_id AND v.idx = s.idx) AS k
       FROM review_scores s WHERE s.run_id = ?`, [name]));
    assert.ok(rows.length >= 3 * n - 2);
    for (const r of rows) {
      const xs = (r.samples as (number | null)[]);
      assert.equal(xs.length, 3, `instance ${r.idx} ${r.skill}: 3 samples`);
      assert.equal(Number(r.k), 3);
      const num = xs.filter((x): x is number => x !== null);
      if (num.length === 0) assert.equal(r.score, null);
      else assert.ok(Math.abs(Number(r.score) - num.reduce((a, b) => a + b, 0) / num.length) < 1e-12, `instance ${r.idx} ${r.skill}: the mean`);
    }
    // The report's per-skill figure is the mean over instances of those means.
    const { figs, sources } = await db.read((sql) => loadRunFigures(sql, [name], DEFAULT_BOOTSTRAP, undefined, ['skill']));
    for (const f of figs[0]!.skills) {
      const per = rows.filter((r) => r.score !== null && skillKey(r.skill as SkillName) === f.skill).map((r) => Number(r.score));
      assert.ok(Math.abs(f.mean! - per.reduce((a, b) => a + b, 0) / per.length) < 1e-9, `${f.skill} mean`);
    }
    const spread = await db.read((sql) => sampleSpread(sql, sources));
    assert.equal(spread.length, 1);
    assert.equal(spread[0]!.samples, 3);
    results[name] = await db.read((sql) => judgeReliability(sql, name, { ...BS, level: 0.95 }));
    const fromSpread = [...spread[0]!.sdBySkill.values()];
    const fromReport = results[name].judges[0]!.skills.map((s) => s.self!.sdWithin!);
    assert.deepEqual(fromSpread.sort().map((x) => x.toFixed(9)), fromReport.sort().map((x) => x.toFixed(9)), 'report and judge-report define the SD alike');
  }
  const noisy = results.noisy!.judges[0];
  const steady = results.steady!.judges[0];
  assert.equal(noisy!.samples, 3);
  for (const s of steady!.skills) assert.equal(s.self!.sdWithin, 0, `deterministic judge: no within-instance spread (${s.skill})`);
  // Clamping at 1 and 5 hides part of the noise on skills scored near an end (harmlessness near 5).
  const sds = noisy!.skills.map((s) => `${s.skill} ${s.self!.sdWithin!.toFixed(2)} (n=${s.self!.instances})`);
  assert.ok(noisy!.skills.filter((s) => s.self!.instances >= 10).every((s) => s.self!.sdWithin! > 0.4), `${sds.join(', ')}`);
  assert.ok(noisy!.reasks.n >= 3 * n && noisy!.failed.count === 0);
  const text = judgeReportText(results.noisy!);
  assert.match(text, /samples per instance K=3; reviews 30; failed 0\.0% \(0\/30\)/);
  assert.match(text, /within-SD\s+ICC\(1\)/);
  console.log(text);
});
