// The leaderboard: ranks, rank intervals and tiers recover a planted ordering; its per-run
// figures equal what `compare` computes for the same runs; instances some run lacks are left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLeaderboard } from '../../core/report/leaderboard.js';
import { compareRuns } from '../../core/report/compareRuns.js';
import type { InstanceScores } from '../../core/report/instanceScores.js';
import { mulberry32 } from '../../core/stats/random.js';
import { SKILL_KEY_ORDER } from '../../core/flask/skills.js';

const BS = { resamples: 300, seed: 3 };

/** Runs on the same 800 instances: a shared base, each score moved up by 1 with probability `shift[run]` (and down by 1 with probability 0.1). */
function runs(shifts: Record<string, number>, seed = 9): Map<string, InstanceScores[]> {
  const rand = mulberry32(seed);
  const base = Array.from({ length: 800 }, (_, idx) => {
    const skills = new Set<string>();
    while (skills.size < 3) skills.add(SKILL_KEY_ORDER[Math.floor(rand() * 12)]!);
    return { idx, skills: [...skills].map((s) => [s, 2 + Math.floor(rand() * 3)] as const) };
  });
  const out = new Map<string, InstanceScores[]>();
  for (const [run, shift] of Object.entries(shifts)) {
    out.set(run, base.map(({ idx, skills }) => ({
      idx, level: 1, domains: [],
      scores: new Map(skills.map(([s, v]) => [s, Math.min(5, Math.max(1, v + (rand() < shift ? 1 : 0) - (rand() < 0.1 ? 1 : 0)))])),
    })));
  }
  return out;
}

test('leaderboard: a planted order is recovered, close runs share a tier, distinct ones do not', () => {
  const scores = runs({ weak: 0.0, mid: 0.3, midTwin: 0.31, strong: 0.7 });
  const lb = buildLeaderboard(scores, ['weak', 'mid', 'midTwin', 'strong'], BS);
  assert.equal(lb.instances, 800);
  const byRun = new Map(lb.rows.map((r) => [r.run, r]));
  assert.equal(byRun.get('strong')!.rank, 1);
  assert.equal(byRun.get('weak')!.rank, 4);
  assert.deepEqual([byRun.get('strong')!.rankLow, byRun.get('strong')!.rankHigh], [1, 1]);
  // mid and midTwin: indistinguishable, so one tier and a rank interval spanning 2-3
  assert.equal(byRun.get('mid')!.tier, byRun.get('midTwin')!.tier);
  assert.ok(byRun.get('mid')!.tiedWith.includes('midTwin'));
  assert.ok(byRun.get('mid')!.rankLow <= 2 && byRun.get('mid')!.rankHigh >= 3);
  assert.notEqual(byRun.get('strong')!.tier, byRun.get('mid')!.tier);
  assert.notEqual(byRun.get('weak')!.tier, byRun.get('mid')!.tier);
  // Holm over the 6 pairs: adjusted p >= raw p
  assert.equal(lb.pairs.length, 6);
  for (const p of lb.pairs) assert.ok(p.pHolm! >= p.p! - 1e-15);
});

test('leaderboard: each run\'s figures equal compare\'s means when both runs scored the same skills (to 1e-12)', () => {
  const scores = runs({ a: 0.2, b: 0.4 }, 21);
  const lb = buildLeaderboard(scores, ['a', 'b'], BS);
  const c = compareRuns('a', 'b', scores.get('a')!, scores.get('b')!, BS);
  const a = lb.rows.find((r) => r.run === 'a')!;
  const b = lb.rows.find((r) => r.run === 'b')!;
  for (const f of c.figures) {
    const la = f.figure === 'overall' ? a.overall : a.skills[f.figure]!;
    const lbb = f.figure === 'overall' ? b.overall : b.skills[f.figure]!;
    assert.ok(Math.abs(la.mean! - f.meanA!) < 1e-12, `${f.figure} A`);
    assert.ok(Math.abs(lbb.mean! - f.meanB!) < 1e-12, `${f.figure} B`);
    assert.ok(la.low! <= la.mean! && la.mean! <= la.high!);
  }
  assert.equal(lb.pairs[0]!.p, c.figures.find((f) => f.figure === 'overall')!.p);
});

test('leaderboard: instances only some runs scored are left out and counted', () => {
  const scores = runs({ a: 0.2, b: 0.4 }, 5);
  scores.set('b', scores.get('b')!.filter((r) => r.idx % 10 !== 0));
  const lb = buildLeaderboard(scores, ['a', 'b'], BS);
  assert.equal(lb.instances, 720);
  assert.equal(lb.excluded, 80);
});
