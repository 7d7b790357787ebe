/**
 * The report's figures (core/report/runScores.ts + figures.ts: columns, one bootstrap batch in
 * WebAssembly and worker threads) against the definition they replaced, kept here verbatim as the
 * reference: loadInstanceScores' row objects and one bootstrapMeanCi (resampleRatio) per figure.
 * The data set is random: unequal skill groups, N/A, fractional scores (4.5, and 1.1 to 5.0 in
 * tenths, where the order of additions within an instance changes the last bit of a sum), unlabelled difficulty and domains, a domain outside FLASK's list, failed
 * and missing reviews, instances stored in an order (ord) unlike their idx, runs of 1 and 0 scores,
 * and an instance whose sum depends on the order of its scores.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Database } from '../../core/store/database.js';
import { createOrMatchRun } from '../../core/store/runs.js';
import { landInstances } from '../../core/store/instances.js';
import { landReview, type ReviewFixture as ReviewRow } from '../helpers/landReview.js';
import { openReader, type ResultsReader } from '../../server/resultsReader.js';
import { SKILL_NAMES, type SkillName } from '../../core/flask/skills.js';
import { DIFFICULTY_LEVELS } from '../../core/flask/difficulty.js';
import { mulberry32 } from '../../core/stats/random.js';
import { bootstrapMeanCi, DEFAULT_BOOTSTRAP, type BootstrapOptions, type Cluster } from '../../core/stats/bootstrap.js';
import { loadInstanceScores, orderSkills, type InstanceScores } from '../../core/report/instanceScores.js';
import { FLASK_DOMAIN_ORDER, type DifficultyFigure, type Figure, type RunFigures } from '../../core/report/figures.js';
import { loadRunFigures } from '../../core/report/load.js';
import type { Reader } from '../../core/store/reader.js';
import type { EvalInstance } from '../../core/flask/dataset.js';
import { record } from '../reportFixture.js';

/** core/report/figures.ts's computeRunFigures before the batch bootstrap (commit 48750f5), unchanged. */
function referenceRunFigures(runId: string, rows: readonly InstanceScores[], opts: BootstrapOptions = DEFAULT_BOOTSTRAP): RunFigures {
  const bs: Required<BootstrapOptions> = { resamples: opts.resamples, seed: opts.seed, level: opts.level ?? DEFAULT_BOOTSTRAP.level };
  const fig = (label: string, members: readonly InstanceScores[], pick: (s: InstanceScores) => (number | null)[]): Figure => {
    const clusters: Cluster[] = [];
    let sum = 0;
    let na = 0;
    for (const m of members) {
      const vals = pick(m);
      let s = 0;
      let c = 0;
      for (const v of vals) {
        if (v === null) na++;
        else {
          s += v;
          c++;
        }
      }
      sum += s;
      if (c > 0) clusters.push({ sum: s, count: c });
    }
    return { ...bootstrapMeanCi(clusters, bs, label), sum, naCount: na };
  };

  const skillKeys = orderSkills(rows.flatMap((r) => [...r.scores.keys()]));
  const skills = skillKeys.map((k) => ({
    skill: k,
    ...fig(`skill|${k}`, rows.filter((r) => r.scores.has(k)), (r) => [r.scores.get(k)!]),
  }));

  const difficulty: DifficultyFigure[] = [];
  for (const k of skillKeys) {
    const withSkill = rows.filter((r) => r.scores.has(k) && r.level !== undefined);
    for (let level = 1; level <= DIFFICULTY_LEVELS.length; level++) {
      const at = fig(`difficulty|${k}|${level}`, withSkill.filter((r) => r.level === level), (r) => [r.scores.get(k)!]);
      const upTo = level === 1 ? at : fig(`cumulative|${k}|${level}`, withSkill.filter((r) => r.level! <= level), (r) => [r.scores.get(k)!]);
      difficulty.push({
        skill: k, level, difficulty: DIFFICULTY_LEVELS[level - 1]!, ...at,
        cumulative: { mean: upTo.mean, low: upTo.low, high: upTo.high, n: upTo.n, instances: upTo.instances }, cumulativeSum: upTo.sum,
      });
    }
  }

  const present = new Set(rows.flatMap((r) => r.domains));
  const domainOrder = [...FLASK_DOMAIN_ORDER.filter((d) => present.has(d)), ...[...present].filter((d) => !(FLASK_DOMAIN_ORDER as readonly string[]).includes(d)).sort()];
  const domains = domainOrder.map((d) => ({ domain: d, ...fig(`domain|${d}`, rows.filter((r) => r.domains.includes(d)), (r) => [...r.scores.values()]) }));

  return {
    runId, instances: rows.length, overall: fig('overall', rows, (r) => [...r.scores.values()]), skills, difficulty, domains, bootstrap: bs,
  };
}

const RUNS = { big: 160, mid: 45, one: 1, none: 6, halves: 120 } as const;
let dir = '';
let reader: ResultsReader;

/** A random run of `n` instances; run "none" has only failed reviews, run "halves" only scores 1-5 in halves. */
async function landRandomRun(db: Database, runId: keyof typeof RUNS, rand: () => number): Promise<void> {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const domains = [...FLASK_DOMAIN_ORDER, 'Law (not in FLASK)'];
  const instances: EvalInstance[] = Array.from({ length: RUNS[runId] }, (_, i) => {
    const skills = [...new Set(Array.from({ length: 1 + Math.floor(rand() * 5) }, () => pick(SKILL_NAMES)))];
    const doms = rand() < 0.15 ? [] : [...new Set(Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(domains)))];
    return {
      idx: 1000 + i * 7, instruction: `q${i}`, answer: '', task: 't', skills, domains: doms, unlabelledDomain: doms.length === 0,
      difficulty: rand() < 0.15 ? null : pick(DIFFICULTY_LEVELS), extra: {},
    } as EvalInstance;
  });
  // Stored in a shuffled order: ord (the report's order) differs from idx order.
  const shuffled = [...instances].sort(() => rand() - 0.5);
  await db.run(async (sql) => {
    await createOrMatchRun(sql, record(runId));
    await landInstances(sql, runId, shuffled);
  });
  for (const inst of instances) {
    if (rand() < 0.1) continue; // never reviewed
    const failed = runId === 'none' || rand() < 0.1;
    const scores: ReviewRow['scores'] = {};
    for (const s of inst.skills as SkillName[]) {
      const x = rand();
      const tenths = runId === 'halves' ? 1 + Math.round(rand() * 8) / 2 : 1 + Math.round(rand() * 40) / 10;
      scores[s] = x < 0.15 ? 'N/A' : x < 0.2 ? 4.5 : x < 0.6 ? tenths : 1 + Math.floor(rand() * 5);
    }
    await db.run((sql) => landReview(sql, runId, {
      idx: inst.idx, status: failed ? 'failed' : 'scored', judgeModel: 'j', rawText: '', error: failed ? 'x' : null, scores: failed ? {} : scores
    }));
  }
}

/**
 * Run "order": one instance whose 12 scores add to 33.199999999999996 in its own skill order (the
 * reverse of FLASK's) and to 33.2 in the order of the names: its overall sum shows which was used.
 */
const ORDER_SCORES = [1, 1.5, 4, 2.8, 3.1, 1.9, 1.2, 3.7, 3.7, 4.7, 2.5, 3.1];
async function landOrderRun(db: Database): Promise<void> {
  const skills = [...SKILL_NAMES].reverse();
  await db.run(async (sql) => {
    await createOrMatchRun(sql, record('order'));
    await landInstances(sql, 'order', [{ idx: 1, instruction: 'q', answer: '', task: 't', skills, domains: ['Math'], unlabelledDomain: false, difficulty: DIFFICULTY_LEVELS[2], extra: {} } as EvalInstance]);
    await landReview(sql, 'order', {
      idx: 1, status: 'scored', judgeModel: 'j', rawText: '', error: null, scores: Object.fromEntries(skills.map((k, i) => [k, ORDER_SCORES[i]]))
    });
  });
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'flask-figures-'));
  const file = path.join(dir, 'results.duckdb');
  const db = new Database(file);
  const rand = mulberry32(2024);
  for (const runId of Object.keys(RUNS) as (keyof typeof RUNS)[]) await landRandomRun(db, runId, rand);
  await landOrderRun(db);
  await db.close();
  reader = await openReader({ dbFile: file, stateDir: dir });
});

after(async () => {
  await reader?.close();
  rmSync(dir, { recursive: true, force: true });
});

const runIds = [...Object.keys(RUNS), 'order'];

async function reference(r: Reader, bs: BootstrapOptions, ids = runIds): Promise<RunFigures[]> {
  const scores = await loadInstanceScores(r, ids);
  return ids.map((id) => referenceRunFigures(id, scores.get(id) ?? [], bs));
}

/** A column's figures without where they come from (the reference computes figures only). */
const figuresOnly = (figs: RunFigures[]): RunFigures[] => figs.map(({ column: _c, source: _s, ...f }) => f);

/** The reader, counting the numeric queries (scores are read twice when their order within an instance matters). */
function counting(): { r: Reader; reads: () => number } {
  let n = 0;
  return {
    r: { all: (sql, params) => reader.all(sql, params), numericColumns: (sql, params) => (n++, reader.numericColumns!(sql, params)) },
    reads: () => n,
  };
}

for (const bs of [DEFAULT_BOOTSTRAP, { resamples: 37, seed: 5, level: 0.9 }]) {
  test(`figures equal the reference definition on random data (B=${bs.resamples}, seed ${bs.seed})`, async () => {
    const want = await reference(reader, bs);
    const c = counting();
    const { figs } = await loadRunFigures(c.r, runIds, bs);
    assert.deepStrictEqual(figs.map((f) => f.column), runIds, 'a one-judge run is one column, named by the run');
    assert.deepStrictEqual(figuresOnly(figs), want);
    assert.equal(c.reads(), 1 + 2, 'scores read again in each instance\'s skill order (tenths), domains once');
    // The data set has what the test is about.
    const big = want[0];
    assert.ok(big!.skills.length >= 10 && new Set(big!.skills.map((s) => s.n)).size > 3, 'unequal skill groups');
    assert.ok(big!.skills.some((s) => s.naCount > 0) && big!.domains.some((d) => d.naCount > 0), 'N/A scores');
    assert.ok(big!.domains.some((d) => d.domain === 'Law (not in FLASK)'));
    assert.equal(want[2]!.instances, 1);
    assert.equal(want[3]!.instances, 0);
    assert.equal(want[5]!.overall!.sum, 33.199999999999996, 'run "order" sums in its instance\'s skill order');
  });
}

test('scores that add exactly (1-5 in halves) are read once, without the instances\' skill order: the same figures', async () => {
  const c = counting();
  const { figs } = await loadRunFigures(c.r, ['halves'], DEFAULT_BOOTSTRAP);
  assert.deepStrictEqual(figuresOnly(figs), await reference(reader, DEFAULT_BOOTSTRAP, ['halves']));
  assert.equal(c.reads(), 1 + 1, 'scores once, domains once');
  assert.ok(figs[0]!.overall!.n > 200);
});

test('a reader without numericColumns (the state server socket) gives the same figures', async () => {
  const { figs } = await loadRunFigures({ all: (sql, params) => reader.all(sql, params) }, runIds, DEFAULT_BOOTSTRAP);
  assert.deepStrictEqual(figuresOnly(figs), await reference(reader, DEFAULT_BOOTSTRAP));
});

test('only the analyses asked for are computed, with the same numbers', async () => {
  const full = (await loadRunFigures(reader, runIds, DEFAULT_BOOTSTRAP)).figs;
  const skill = (await loadRunFigures(reader, runIds, DEFAULT_BOOTSTRAP, undefined, ['skill', 'overall'])).figs;
  const domain = (await loadRunFigures(reader, runIds, DEFAULT_BOOTSTRAP, undefined, ['domain'])).figs;
  full.forEach((f, i) => {
    assert.deepStrictEqual(skill[i], { ...f, difficulty: [], domains: [] });
    assert.deepStrictEqual(domain[i], { ...f, overall: undefined, skills: [], difficulty: [] });
  });
});
