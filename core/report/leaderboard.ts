/**
 * A leaderboard of runs scored on the same instances (e.g. several models reviewed by one judge;
 * a panel's judges are columns of their own, RUN@J1, RUN@J2).
 *
 * - Figures: per skill and overall (every skill score of an instance pooled), each run's own scores
 *   on the instances every run scored, so all runs are ranked on one set of instances (a skill
 *   another run called N/A still counts for this one; `compare`'s pairs drop it).
 * - Uncertainty: one joint bootstrap over those instances (the same resampled instances for every
 *   run in a draw, since the runs are paired by instance): each run's 95% percentile CI, and its
 *   95% rank interval (the 2.5th and 97.5th percentiles of its rank across draws, 1 = best).
 * - Significance: every pair of runs by the paired sign-flip test of `compare` on the overall
 *   figure (exact for FLASK's integer scores), Holm-corrected over all pairs. A run's tier: runs are
 *   taken best first; a tier opens with the best run not yet placed and takes every later run not
 *   significantly worse than it. So runs in one tier are not distinguishable from its leader.
 */
import { quantile, type BootstrapOptions } from '../stats/bootstrap.js';
import { adjustPValues } from '../stats/multipleTesting.js';
import { pairedTest } from '../stats/paired.js';
import { deriveSeed, mulberry32 } from '../stats/random.js';
import { pairScores } from './compareRuns.js';
import { orderSkills, type InstanceScores } from './instanceScores.js';

interface Figure {
  mean: number | null;
  low: number | null;
  high: number | null;
  n: number;
}

interface LeaderboardRow {
  run: string;
  rank: number;
  overall: Figure;
  rankLow: number;
  rankHigh: number;
  tier: number;
  /** Runs whose overall difference from this one is not significant (Holm-corrected). */
  tiedWith: string[];
  /** skill key -> mean, CI and number of scores, on the common instances. */
  skills: Record<string, Figure>;
}

interface PairwiseTest {
  a: string;
  b: string;
  /** overall mean of b - a on the common instances */
  diff: number | null;
  p: number | null;
  pHolm: number | null;
}

export interface Leaderboard {
  /** instances every run scored: the figures and ranks use these only */
  instances: number;
  /** instances some run did not score, left out */
  excluded: number;
  skills: string[];
  rows: LeaderboardRow[];
  pairs: PairwiseTest[];
  alpha: number;
  bootstrap: BootstrapOptions;
}

interface Sums {
  sum: Float64Array;
  count: Float64Array;
}

/** Per common instance: the sum and count of a run's scores on `key` (undefined: every skill, overall). */
function sumsOf(rows: ReadonlyMap<number, InstanceScores>, idxs: readonly number[], key: string | undefined): Sums {
  const sum = new Float64Array(idxs.length);
  const count = new Float64Array(idxs.length);
  idxs.forEach((idx, i) => {
    for (const [k, v] of rows.get(idx)!.scores) {
      if (v === null || (key !== undefined && k !== key)) continue;
      sum[i]! += v;
      count[i]! += 1;
    }
  });
  return { sum, count };
}

export function buildLeaderboard(scores: ReadonlyMap<string, readonly InstanceScores[]>, runIds: readonly string[], bs: BootstrapOptions, alpha = 0.05): Leaderboard {
  const byRun = new Map(runIds.map((id) => [id, new Map((scores.get(id) ?? []).map((r) => [r.idx, r]))]));
  const all = new Set(runIds.flatMap((id) => [...byRun.get(id)!.keys()]));
  const common = [...all].filter((idx) => runIds.every((id) => byRun.get(id)!.has(idx))).sort((x, y) => x - y);
  const skills = orderSkills(runIds.flatMap((id) => common.flatMap((idx) => [...byRun.get(id)!.get(idx)!.scores.keys()])));
  const figures = [undefined, ...skills];
  // sums[f][r]: figure f (0 = overall), run r
  const sums = figures.map((key) => runIds.map((id) => sumsOf(byRun.get(id)!, common, key)));

  // One joint bootstrap: the same resampled instances for every run and figure in a draw.
  const B = bs.resamples;
  const draws = figures.map(() => runIds.map(() => new Float64Array(B)));
  const ranks = runIds.map(() => new Float64Array(B));
  const rand = mulberry32(deriveSeed(bs.seed, `leaderboard|${runIds.join('|')}`));
  const pick = new Int32Array(common.length);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < pick.length; i++) pick[i] = Math.floor(rand() * common.length);
    for (let f = 0; f < figures.length; f++) {
      for (let r = 0; r < runIds.length; r++) {
        const { sum, count } = sums[f]![r]!;
        let s = 0;
        let c = 0;
        for (let i = 0; i < pick.length; i++) {
          s += sum[pick[i]!]!;
          c += count[pick[i]!]!;
        }
        draws[f]![r]![b] = c > 0 ? s / c : NaN;
      }
    }
    // Ranks on the overall figure in this draw (1 = best; ties share the better rank).
    const overall = runIds.map((_, r) => draws[0]![r]![b]!);
    for (let r = 0; r < runIds.length; r++) ranks[r]![b] = 1 + overall.filter((x) => x > overall[r]!).length;
  }
  const level = bs.level ?? 0.95;
  const figureOf = (f: number, r: number): Figure => {
    const { sum, count } = sums[f]![r]!;
    const n = count.reduce((a, x) => a + x, 0);
    const d = Float64Array.from(draws[f]![r]!.filter((x) => !Number.isNaN(x))).sort();
    return {
      mean: n > 0 ? sum.reduce((a, x) => a + x, 0) / n : null,
      low: d.length ? quantile(d, (1 - level) / 2) : null, high: d.length ? quantile(d, (1 + level) / 2) : null, n,
    };
  };

  // Pairwise paired tests on the overall figure, Holm over all pairs.
  const raw: Omit<PairwiseTest, 'pHolm'>[] = [];
  for (let i = 0; i < runIds.length; i++) {
    for (let j = i + 1; j < runIds.length; j++) {
      const pairs = common.map((idx) => {
        const x = byRun.get(runIds[i]!)!.get(idx)!;
        return pairScores(x, byRun.get(runIds[j]!)!.get(idx)!, [...x.scores.keys()]);
      });
      const t = pairedTest(pairs, bs, `leaderboard|${runIds[i]}|${runIds[j]}`);
      raw.push({ a: runIds[i]!, b: runIds[j]!, diff: t.diff, p: t.p });
    }
  }
  const holm = adjustPValues(raw.map((t) => t.p), 'holm');
  const pairs = raw.map((t, k) => ({ ...t, pHolm: holm[k] ?? null }));
  const differs = (x: string, y: string) => {
    const t = pairs.find((q) => (q.a === x && q.b === y) || (q.a === y && q.b === x));
    return t?.pHolm !== null && t?.pHolm !== undefined && t.pHolm < alpha;
  };

  const rows: LeaderboardRow[] = runIds.map((run, r) => {
    const sorted = Float64Array.from(ranks[r]!).sort();
    const skillFigures: Record<string, Figure> = {};
    skills.forEach((k, s) => (skillFigures[k] = figureOf(s + 1, r)));
    return {
      run, rank: 0, overall: figureOf(0, r), rankLow: quantile(sorted, (1 - level) / 2), rankHigh: quantile(sorted, (1 + level) / 2),
      tier: 0, tiedWith: runIds.filter((o) => o !== run && !differs(run, o)), skills: skillFigures,
    };
  });
  rows.sort((x, y) => (y.overall.mean ?? -Infinity) - (x.overall.mean ?? -Infinity));
  rows.forEach((row, i) => (row.rank = i + 1));
  let tier = 0;
  for (const row of rows) {
    if (row.tier) continue;
    tier++;
    row.tier = tier;
    for (const later of rows) if (!later.tier && !differs(row.run, later.run)) later.tier = tier;
  }
  return { instances: common.length, excluded: all.size - common.length, skills, rows, pairs, alpha, bootstrap: bs };
}
