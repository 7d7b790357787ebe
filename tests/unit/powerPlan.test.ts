// compare --plan: the sample-size formula checked against the gate's own test by simulation.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { normalQuantile, pairsNeeded } from '../../core/stats/power.js';
import { pairedTest, type PairedCluster } from '../../core/stats/paired.js';
import { mulberry32 } from '../../core/stats/random.js';
import { powerPlan } from '../../core/report/powerPlan.js';
import type { InstanceScores } from '../../core/report/instanceScores.js';
import { buildReportFixture } from '../reportFixture.js';

test('normalQuantile matches the standard normal table', () => {
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-6);
  assert.ok(Math.abs(normalQuantile(0.8) - 0.841621) < 1e-6);
  assert.ok(Math.abs(normalQuantile(0.001) + 3.090232) < 1e-6);
  assert.equal(normalQuantile(0.5), 0);
});

/** The share of seeded repetitions in which the sign-flip test rejects at alpha with n pairs of differences in {-1, 0, 1}. */
function empiricalPower(n: number, pUp: number, pDown: number, reps: number, alpha = 0.05): number {
  const rand = mulberry32(20260101 + n);
  let rejected = 0;
  for (let r = 0; r < reps; r++) {
    const pairs: PairedCluster[] = [];
    for (let i = 0; i < n; i++) {
      const u = rand();
      pairs.push({ sumA: 3, sumB: u < pUp ? 4 : u < pUp + pDown ? 2 : 3, count: 1 });
    }
    if (pairedTest(pairs, { resamples: 50, seed: r }, `power${r}`).p! < alpha) rejected++;
  }
  return rejected / reps;
}

test('the planned number of pairs gives the sign-flip test about the power asked for; half of it clearly less', () => {
  // Differences +1 (45%), -1 (15%), 0: mean 0.3, SD sqrt(0.6 - 0.09).
  const sd = Math.sqrt(0.6 - 0.09);
  const n = pairsNeeded(sd, { delta: 0.3, alpha: 0.05, power: 0.8, tests: 1 });
  assert.equal(n, 45);
  const atPlan = empiricalPower(n, 0.45, 0.15, 400);
  assert.ok(atPlan >= 0.72 && atPlan <= 0.9, `power at the planned n: ${atPlan}`);
  const atHalf = empiricalPower(Math.ceil(n / 2), 0.45, 0.15, 400);
  assert.ok(atHalf < 0.6, `power at half the planned n: ${atHalf}`);
  // The Bonferroni split over the gate's figures asks for more pairs.
  assert.ok(pairsNeeded(sd, { delta: 0.3, alpha: 0.05, power: 0.8, tests: 13 }) > 1.5 * n);
});

test('powerPlan: a skill carried by a share of the instances needs pairs / share instances', () => {
  const row = (idx: number, s: Record<string, number>): InstanceScores => ({ idx, scores: new Map(Object.entries(s)), level: undefined, domains: [] } as InstanceScores);
  const a: InstanceScores[] = [];
  const b: InstanceScores[] = [];
  for (let i = 0; i < 40; i++) {
    // readability on every instance, correctness on every 4th.
    a.push(row(i, { readability: 3, ...(i % 4 === 0 ? { correctness: 3 } : {}) }));
    b.push(row(i, { readability: 3 + (i % 3 === 0 ? 1 : 0), ...(i % 4 === 0 ? { correctness: i % 8 === 0 ? 4 : 2 } : {}) }));
  }
  const plan = powerPlan(a, b, { delta: 0.3, alpha: 0.05, power: 0.8 });
  assert.equal(plan.settings.tests, 3);
  const corr = plan.rows.find((r) => r.figure === 'correctness')!;
  assert.equal(corr.pairs, 10);
  assert.equal(corr.coverage, 0.25);
  assert.equal(corr.pairsNeeded, pairsNeeded(corr.sd!, plan.settings));
  assert.equal(corr.instancesNeeded, Math.ceil(corr.pairsNeeded! / 0.25));
  const read = plan.rows.find((r) => r.figure === 'readability')!;
  assert.equal(read.instancesNeeded, read.pairsNeeded);
  assert.deepEqual(plan.rows.map((r) => r.figure), ['correctness', 'readability', 'overall']);
});

let db = '';
before(async () => {
  db = await buildReportFixture();
});

test('compare A B --plan D prints the plan with its method; a bad D is refused with the fix', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/flask-eval.js', ...args], { encoding: 'utf8', env: { ...process.env, FLASK_STATE_DIR: path.dirname(db) } });
  const r = cli('compare', 'fa', 'fb', '--db', db, '--plan', '0.3', '--format', 'json');
  assert.equal(r.status, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as ReturnType<typeof powerPlan>;
  assert.equal(plan.settings.delta, 0.3);
  assert.ok(plan.rows.some((x) => x.figure === 'overall' && x.pairsNeeded !== null));
  const t = cli('compare', 'fa', 'fb', '--db', db, '--plan', '0.3');
  assert.match(t.stdout, /method: normal approximation to the paired test/);
  assert.match(t.stdout, /instances needed/);
  const bad = cli('compare', 'fa', 'fb', '--db', db, '--plan', 'big');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--plan takes the difference to detect in score points, > 0 \(got "big"\)/);
});
