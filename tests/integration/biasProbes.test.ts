// The bias probes recover what was planted in a SIMULATED judge (the offline judge's judgeBias):
// a length slope, a skill-order shift and sample noise of known sizes, on 300 answers of a mid-range
// model (alpaca_13b: few scores at the ends of the scale, where rounding to 1..5 clamps effects).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer } from '../../simulator/server.js';
import type { SimulatedJudgeBias } from '../../simulator/judge.js';
import { startOrAttach } from '../../client/runs.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { countWords, lengthProbe } from '../../core/stats/biasProbes.js';
import { judgeReliability, orderProbe, selfPreference } from '../../core/report/judgeReliability.js';
import { orderProbeText } from '../../client/commands/judgeReport.js';
import { DEFAULT_BOOTSTRAP } from '../../core/stats/bootstrap.js';
import type { StepSettings } from '../../core/pipeline.js';
import type { Database } from '../../core/store/database.js';
import { baseRun, landRun, startTestPipeline, tempDb, temporalForThisFile } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
const cleanups = temporalForThisFile((e) => (env = e));
const BS = { ...DEFAULT_BOOTSTRAP, resamples: 500, level: 0.95 };
const N = 300;
const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('alpaca_13b'), 'alpaca_13b', N);

/** One run judged by an offline judge with the given planted flaws. */
async function judged(db: Database, run: string, bias: SimulatedJudgeBias | undefined, settings: Partial<StepSettings> = {}): Promise<void> {
  const server = await startOfflineServer({ seed: 21, ...(bias ? { judgeBias: bias } : {}) });
  const w = await startTestPipeline(env, db, run, server.url, { limits: { maxConcurrency: 16 } });
  cleanups.push(() => w.shutdown(), () => server.close());
  await landRun(db, baseRun(run), prepared.instances, prepared.responses);
  const final = await (await startOrAttach(env.client, w.plan(run, ['review'], {
    judgeSettings: { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3, ...settings }, chunkSize: 50, concurrency: 32,
  }))).handle.result();
  assert.equal(final.done, N);
}

test('length, skill order and sample noise planted in the simulated judge are recovered within the probes\' 95% CIs', async () => {
  const db = tempDb('bias-probes');
  const PLANTED = { lengthPer100Words: 0.4, positionShift: [0.5, 0, 0], sampleSd: 0.7 };
  await judged(db, 'plain', undefined);
  await judged(db, 'long', { lengthPer100Words: PLANTED.lengthPer100Words });
  await judged(db, 'order-given', { positionShift: PLANTED.positionShift });
  await judged(db, 'order-reversed', { positionShift: PLANTED.positionShift }, { skillOrder: 'reversed' });
  await judged(db, 'noisy', { sampleSd: PLANTED.sampleSd }, { samples: 3 });
  const report: string[] = [];

  // Length: the same responses judged with and without the planted slope; the probe's slope on the
  // per-instance differences is the planted one (the judge's own noise is the same hash in both).
  const rows = await db.read((sql) => sql.all(
    `SELECT a.idx, a.skill_key, a.score - b.score AS d, b.score AS plain, x.text, i.answer FROM review_scores a
     JOIN review_scores b ON b.run_id = 'plain' AND b.idx = a.idx AND b.skill = a.skill
     JOIN responses x ON x.run_id = a.run_id AND x.idx = a.idx JOIN instances i ON i.run_id = a.run_id AND i.idx = a.idx
     WHERE a.run_id = 'long' AND a.score IS NOT NULL AND b.score IS NOT NULL`));
  const points = rows.map((r) => ({ score: Number(r.d), words: countWords(String(r.text)), referenceWords: countWords(String(r.answer)) }));
  const all = lengthProbe(points, BS, 'all');
  // Away from the scale's ends (the unbiased score 2..4) clamping to 1..5 hides little of the effect;
  // over all scores it hides some (scores at 5 cannot rise): the slope there is smaller, not larger.
  const mid = lengthProbe(points.filter((_, k) => Number(rows[k]!.plain) >= 2 && Number(rows[k]!.plain) <= 4), BS, 'mid');
  const fmt = (p: typeof all) => `${p.slope!.toFixed(3)} [${p.slopeCi![0].toFixed(3)}, ${p.slopeCi![1].toFixed(3)}] over ${p.n} scores`;
  report.push(`length: planted ${PLANTED.lengthPer100Words} per 100 words; recovered ${fmt(mid)} (unbiased score 2..4), ${fmt(all)} (all scores, clamped at 1 and 5)`);
  assert.ok(mid.slopeCi![0] <= PLANTED.lengthPer100Words && PLANTED.lengthPer100Words <= mid.slopeCi![1], report.at(-1));
  assert.ok(all.slope! > 0 && all.slopeCi![0] <= PLANTED.lengthPer100Words, report.at(-1));
  // Per skill, the judge-report's own probe: the biased run's slope exceeds the plain run's by about the planted value.
  const [long, plain] = [await db.read((sql) => judgeReliability(sql, 'long', BS)), await db.read((sql) => judgeReliability(sql, 'plain', BS))];
  for (const s of long.judges[0]!.skills.filter((x) => x.length.n >= 60)) {
    const p = plain.judges[0]!.skills.find((x) => x.skill === s.skill)!;
    const diff = s.length.slope! - p.length.slope!;
    report.push(`  ${s.skill}: slope ${s.length.slope!.toFixed(3)} (plain ${p.length.slope!.toFixed(3)}, difference ${diff.toFixed(3)}), LC mean ${s.length.lcMean!.toFixed(3)} vs mean ${s.length.mean!.toFixed(3)}`);
    // Skills scored near 5 (readability) lose more of the slope to clamping: detected, not exact.
    assert.ok(diff > PLANTED.lengthPer100Words / 2 && diff < PLANTED.lengthPer100Words * 1.5, report.at(-1));
  }

  // Skill order: reversing 3 skills moves the 1st to 3rd (planted shift 0.5 -> 0: expected -0.5),
  // keeps the 2nd, moves the 3rd to 1st (+0.5).
  const order = await db.read((sql) => orderProbe(sql, 'order-given', 'order-reversed', BS));
  report.push(orderProbeText(order).trimEnd());
  const expected = new Map([[1, -0.5], [2, 0], [3, 0.5]]);
  for (const p of order.byPosition.filter((x) => x.skills === 3)) {
    assert.ok(p.ci![0] <= expected.get(p.position)! && expected.get(p.position)! <= p.ci![1], `position ${p.position}: ${p.shift} [${p.ci}] vs ${expected.get(p.position)}`);
  }

  // Noise: the within-instance SD of the judge's integer scores against the planted SD. Rounding to
  // integers adds variance (about 1/12 when the noise is wide) and clamping at 1 and 5 removes some;
  // on these mid-range answers the two about cancel (the rounding-corrected figure is shown too).
  const noisy = await db.read((sql) => judgeReliability(sql, 'noisy', BS));
  const pooled = noisy.judges[0]!.skills.filter((s) => s.self && s.self.instances >= 30);
  const corrected = (x: number) => Math.sqrt(Math.max(0, x * x - 1 / 12));
  for (const s of pooled) {
    const [lo, hi] = s.self!.sdWithinCi!;
    report.push(`noise ${s.skill}: planted SD ${PLANTED.sampleSd}; within-instance SD ${s.self!.sdWithin!.toFixed(3)} [${lo.toFixed(3)}, ${hi.toFixed(3)}] (rounding-corrected ${corrected(s.self!.sdWithin!).toFixed(3)}), ICC ${s.self!.icc!.toFixed(3)} over ${s.self!.instances} instances`);
  }
  assert.ok(pooled.length >= 5);
  const covered = pooled.filter((s) => s.self!.sdWithinCi![0] <= PLANTED.sampleSd && PLANTED.sampleSd <= s.self!.sdWithinCi![1]);
  assert.ok(covered.length >= pooled.length - 1, report.join('\n'));
  console.log(report.join('\n'));
});

test('self-preference: flagged when the judge and the evaluated model share a family by name', () => {
  assert.equal(selfPreference('gpt-4-0613', 'gpt4').flagged, true);
  assert.equal(selfPreference('gpt-4o', 'claude_v1').flagged, false);
  assert.equal(selfPreference('prometheus-eval/prometheus-7b-v2.0', 'llama2_chat_70b').flagged, false);
  assert.equal(selfPreference('my-judge', 'my-model').flagged, false, 'unknown names are not flagged');
});
