import { test } from 'node:test';
import assert from 'node:assert/strict';
import { averageRanks, itemKey, judgeAgreement, judgeAgreementByGroup, kendallTauB, krippendorffAlpha, spearman, type JudgeScore } from '../../core/stats/agreement.js';

const close = (actual: number | null, expected: number, what: string, eps = 1e-9): void => {
  assert.ok(actual !== null && Math.abs(actual - expected) < eps, `${what}: ${actual} != ${expected}`);
};

test('Spearman and Kendall tau-b on hand-computed fixtures', () => {
  // no ties: d = [-1, 1, -1, 1, 0], sum d^2 = 4, rho = 1 - 6*4/(5*24) = 0.8; 8 concordant, 2 discordant: tau = 0.6
  close(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]), 0.8, 'rho');
  close(kendallTauB([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]), 0.6, 'tau');
  // ties: average ranks x = [1.5,1.5,3.5,3.5,5], y = [1,2.5,2.5,4.5,4.5]: rho = 7.25/9;
  // C = 6, D = 0, 2 pairs tied in x, 2 in y: tau-b = 6 / sqrt(8*8) = 0.75
  assert.deepEqual(averageRanks([1, 1, 2, 2, 3]), [1.5, 1.5, 3.5, 3.5, 5]);
  close(spearman([1, 1, 2, 2, 3], [1, 2, 2, 3, 3]), 7.25 / 9, 'rho ties');
  close(kendallTauB([1, 1, 2, 2, 3], [1, 2, 2, 3, 3]), 0.75, 'tau-b ties');
  close(spearman([1, 2, 3], [3, 2, 1]), -1, 'perfect inverse');
  // undefined: a constant judge, fewer than two items
  assert.equal(spearman([3, 3, 3], [1, 2, 3]), null);
  assert.equal(kendallTauB([3, 3, 3], [1, 2, 3]), null);
  assert.equal(spearman([4], [4]), null);
  assert.equal(kendallTauB([], []), null);
  assert.throws(() => spearman([1, 2], [1]), /differ in length/);
});

// Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers, 12
// units, values 1-5, missing entries (null). Published: nominal .743, ordinal .815, interval .849.
const TEXTBOOK: (number | null)[][] = [
  [1, 2, 3, 3, 2, 1, 4, 1, 2, null, null, null],
  [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, null, 3],
  [null, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, null],
  [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, null],
];
const textbookUnits = TEXTBOOK[0]!.map((_, u) => TEXTBOOK.map((row) => row[u]).filter((v): v is number => v !== null));

test("Krippendorff's alpha: the textbook example (and the krippendorff package's figures)", () => {
  // Exact values from the Python `krippendorff` package (0.9.0) on the same data.
  close(krippendorffAlpha(textbookUnits, 'nominal'), 0.743421052631579, 'nominal');
  close(krippendorffAlpha(textbookUnits, 'ordinal'), 0.8153875037548814, 'ordinal');
  close(krippendorffAlpha(textbookUnits, 'interval'), 0.8491071428571428, 'interval');
  assert.equal(Number(krippendorffAlpha(textbookUnits)!.toFixed(3)), 0.815, 'ordinal is the default');
  // perfect agreement with variation: 1; no variation at all: undefined
  close(krippendorffAlpha([[1, 1], [2, 2], [5, 5]]), 1, 'perfect');
  assert.equal(krippendorffAlpha([[3, 3], [3, 3]]), null);
  assert.equal(krippendorffAlpha([[3], [4]]), null, 'no pairable unit');
});

// Two judges on 12 (instance, skill) items; reference figures from scipy 1.17 (spearmanr,
// kendalltau = tau-b) and krippendorff.alpha(level_of_measurement='ordinal').
const A = [5, 4, 4, 3, 5, 2, 1, 3, 4, 5, 2, 3];
const B = [4, 4, 5, 3, 5, 3, 1, 2, 4, 4, 2, 4];
const C = [5, 3, 4, 3, 4, 2, 2, 3, null, 5, 1, 3];
const SKILLS = ['Factuality', 'Readability', 'Conciseness'];
const rows = (judge: string, scores: (number | null)[]): (JudgeScore & { skill: string })[] =>
  scores.flatMap((score, i) => (score === null ? [] : [{ item: itemKey(Math.floor(i / 3), SKILLS[i % 3]!), skill: SKILLS[i % 3]!, judge, score }]));

test('two-judge panel: every figure with its counts', () => {
  const s = judgeAgreement([...rows('gpt-4', A), ...rows('prometheus', B)]);
  assert.deepEqual(s.judges, ['gpt-4', 'prometheus']);
  assert.equal(s.items, 12);
  assert.equal(s.values, 24);
  assert.equal(s.pairs.length, 1);
  const p = s.pairs[0];
  assert.equal(p!.n, 12);
  close(p!.spearman, 0.8135744398195557, 'spearman');
  close(p!.kendallTauB, 0.7158675207589935, 'kendall');
  close(s.krippendorffAlpha, 0.8145304080061586, 'alpha');
  assert.deepEqual(p!.exact, { count: 6, n: 12, rate: 0.5 });
  assert.deepEqual(p!.withinOne, { count: 12, n: 12, rate: 1 });
  assert.deepEqual(s.exact, p!.exact);
});

test('three judges with a missing score; items one judge alone scored are left out', () => {
  const scores = [...rows('a', A), ...rows('b', B), ...rows('c', C), { item: 'only-one', judge: 'a', score: 5 }];
  const s = judgeAgreement(scores);
  assert.equal(s.items, 12);
  assert.equal(s.values, 35);
  close(s.krippendorffAlpha, 0.8210904480135249, 'alpha 3 judges');
  const ac = s.pairs.find((p) => p.a === 'a' && p.b === 'c')!;
  const bc = s.pairs.find((p) => p.a === 'b' && p.b === 'c')!;
  assert.equal(ac.n, 11);
  close(ac.spearman, 0.9376741460831712, 'a-c rho');
  close(ac.kendallTauB, 0.8602647872386805, 'a-c tau');
  close(bc.spearman, 0.746376811594203, 'b-c rho');
  close(bc.kendallTauB, 0.608695652173913, 'b-c tau');
  // pooled over pairs: a-b 12 pairs (6 exact), a-c 11, b-c 11
  assert.equal(s.exact.n, 34);
  const exactAC = A.filter((v, i) => C[i] !== null && v === C[i]).length;
  const exactBC = B.filter((v, i) => C[i] !== null && v === C[i]).length;
  assert.equal(s.exact.count, 6 + exactAC + exactBC);
  assert.throws(() => judgeAgreement([{ item: 'x', judge: 'a', score: 1 }, { item: 'x', judge: 'a', score: 2 }]), /twice/);
});

test('per skill and overall', () => {
  const { overall, groups } = judgeAgreementByGroup([...rows('gpt-4', A), ...rows('prometheus', B)], (s) => s.skill);
  assert.equal(overall.items, 12);
  assert.deepEqual([...groups.keys()].sort(), [...SKILLS].sort());
  const f = groups.get('Factuality')!; // items 0,3,6,9: A 5,3,1,5  B 4,3,1,4
  assert.equal(f.items, 4);
  assert.deepEqual(f.pairs[0]!.exact, { count: 2, n: 4, rate: 0.5 });
  close(f.pairs[0]!.spearman, 1, 'same order');
});
