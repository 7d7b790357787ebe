// The regression gate of `compare --fail-if-worse`: a planted drop fails it, noise passes it, and
// the corrections it rests on are right. Seeded synthetic pairs of runs (FLASK-shaped: 1,700
// instances, each scored on 3 of the 12 skills, 1-5), so the planted effect is known.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRuns } from '../../core/report/compareRuns.js';
import { evaluateGate, gateJunit, gateMarkdown } from '../../core/report/gate.js';
import type { InstanceScores } from '../../core/report/instanceScores.js';
import { adjustPValues } from '../../core/stats/multipleTesting.js';
import { mulberry32 } from '../../core/stats/random.js';
import { SKILL_KEY_ORDER } from '../../core/flask/skills.js';

const BS = { resamples: 200, seed: 7 };

/**
 * Run A, and run B = A with symmetric noise (each score moves ±1 with probability 0.2 each way,
 * kept in 1..5); on `dropSkill`, B is also 1 lower with probability `drop` (A's score there is
 * 2..5, so the drop is rarely clipped: the planted mean difference is about -drop).
 */
function pairOfRuns(seed: number, n: number, dropSkill?: string, drop = 0): [InstanceScores[], InstanceScores[]] {
  const rand = mulberry32(seed);
  const pick = (k: number) => Math.floor(rand() * k);
  const a: InstanceScores[] = [];
  const b: InstanceScores[] = [];
  for (let idx = 0; idx < n; idx++) {
    const skills = new Set<string>();
    while (skills.size < 3) skills.add(SKILL_KEY_ORDER[pick(12)]!);
    const sa = new Map<string, number | null>();
    const sb = new Map<string, number | null>();
    for (const s of skills) {
      const base = s === dropSkill ? 2 + pick(3) : 1 + pick(5);
      const u = rand();
      let other = u < 0.2 ? base - 1 : u < 0.4 ? base + 1 : base;
      if (s === dropSkill) other -= rand() < drop ? 1 : 0;
      sa.set(s, base);
      sb.set(s, Math.min(5, Math.max(1, other)));
    }
    const level = 1 + pick(5);
    a.push({ idx, scores: sa, level, domains: [] });
    b.push({ idx, scores: sb, level, domains: [] });
  }
  return [a, b];
}

test('Holm and Benjamini-Hochberg adjusted p-values (textbook example), nulls kept in place', () => {
  const ps = [0.01, 0.04, 0.03, 0.005, null];
  // Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, made monotone: 0.02, 0.03, 0.06, 0.06.
  assert.deepEqual(adjustPValues(ps, 'holm').map((p) => (p === null ? null : +p.toFixed(6))), [0.03, 0.06, 0.06, 0.02, null]);
  // BH: p * m / rank, monotone from the top: 0.04, 0.04, 0.04, 0.02.
  assert.deepEqual(adjustPValues(ps, 'bh').map((p) => (p === null ? null : +p.toFixed(6))), [0.02, 0.04, 0.04, 0.02, null]);
});

test('gate: a planted drop of 0.3 on one skill fails it in 95%+ of seeded repetitions; a null difference passes in 95%+', () => {
  const reps = 40;
  let caught = 0;
  let passedNull = 0;
  for (let r = 0; r < reps; r++) {
    const [a, b] = pairOfRuns(1000 + r, 1700, 'correctness', 0.3);
    const g = evaluateGate(compareRuns('a', 'b', a, b, BS), { maxDrop: 0.1, alpha: 0.05 });
    if (!g.passed && g.figures.some((f) => f.failed && f.figure === 'correctness')) caught++;
    const [a0, b0] = pairOfRuns(5000 + r, 1700);
    if (evaluateGate(compareRuns('a', 'b', a0, b0, BS), { maxDrop: 0.1, alpha: 0.05 }).passed) passedNull++;
  }
  assert.ok(caught / reps >= 0.95, `planted drop caught in ${caught}/${reps}`);
  assert.ok(passedNull / reps >= 0.95, `null passed in ${passedNull}/${reps}`);
});

test('gate: a significant drop smaller than the tolerance passes; --skills narrows what is tested; markdown and JUnit say the same', () => {
  const [a, b] = pairOfRuns(42, 1700, 'correctness', 0.3);
  const c = compareRuns('base', 'head', a, b, BS);
  const strict = evaluateGate(c, { maxDrop: 0.1, alpha: 0.05 });
  assert.equal(strict.passed, false);
  const tolerant = evaluateGate(c, { maxDrop: 0.5, alpha: 0.05 });
  assert.equal(tolerant.passed, true);
  assert.match(tolerant.figures.find((f) => f.figure === 'correctness')!.verdict, /within the tolerated 0.5/);
  const other = evaluateGate(c, { maxDrop: 0.1, alpha: 0.05, skills: ['readability'] });
  assert.deepEqual(other.figures.map((f) => f.figure), ['readability', 'overall']);
  const md = gateMarkdown(c, strict);
  assert.match(md, /❌ FLASK gate failed: head is worse than base/);
  assert.match(md, /\| correctness \| -0\.\d{3} \|.*❌ worse by/);
  const xml = gateJunit([{ c, g: strict }]);
  assert.equal((xml.match(/<testcase /g) ?? []).length, strict.figures.length);
  assert.equal((xml.match(/<failure /g) ?? []).length, strict.figures.filter((f) => f.failed).length);
  assert.match(xml, /failures="[1-9]/);
});
