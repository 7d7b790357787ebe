import { detectableDifference, pairsNeeded, sampleSd, type PowerSettings } from '../stats/power.js';
import { pairScores } from './compareRuns.js';
import { orderSkills, type InstanceScores } from './instanceScores.js';

interface PlanRow {
  figure: string;
  /** pairs observed now (instances both runs scored on this figure) */
  pairs: number;
  /** share of the common instances that carry this figure (a skill is scored on ~3 of 12 per instance) */
  coverage: number;
  sd: number | null;
  /** the difference the pairs observed now would detect */
  detectableNow: number | null;
  pairsNeeded: number | null;
  /** pairsNeeded / coverage: instances to run */
  instancesNeeded: number | null;
}

export interface PowerPlan {
  settings: PowerSettings;
  instances: number;
  method: string;
  rows: PlanRow[];
}

/**
 * How many instances detect `delta` per skill and overall, from the variance of the differences
 * two runs show on their common instances (an earlier pair of checkpoints, a pilot run).
 */
export function powerPlan(rowsA: readonly InstanceScores[], rowsB: readonly InstanceScores[], s: Omit<PowerSettings, 'tests'>): PowerPlan {
  const byIdxB = new Map(rowsB.map((r) => [r.idx, r]));
  const common = rowsA.filter((r) => byIdxB.has(r.idx)).map((r) => [r, byIdxB.get(r.idx)!] as const);
  const skills = orderSkills(common.flatMap(([x]) => [...x.scores.keys()]));
  const settings: PowerSettings = { ...s, tests: skills.length + 1 };
  const row = (figure: string, keys: (x: InstanceScores) => string[]): PlanRow => {
    // Per instance: the mean difference of its scores on the figure (one score for a skill).
    const d = common.map(([x, y]) => pairScores(x, y, keys(x))).filter((p) => p.count > 0).map((p) => (p.sumB - p.sumA) / p.count);
    const coverage = common.length ? d.length / common.length : 0;
    const sd = d.length >= 2 ? sampleSd(d) : null;
    const need = sd === null ? null : pairsNeeded(sd, settings);
    return {
      figure, pairs: d.length, coverage, sd,
      detectableNow: sd === null ? null : detectableDifference(sd, d.length, settings),
      pairsNeeded: need, instancesNeeded: need === null || coverage === 0 ? null : Math.ceil(need / coverage),
    };
  };
  return {
    settings, instances: common.length,
    method: `normal approximation to the paired test: n = ((z[1 - alpha/${settings.tests}/2] + z[power]) x sd / delta)^2, sd = the observed SD of the ` +
      `per-instance differences B - A; alpha split over the ${settings.tests} figures (Bonferroni, the bound on the gate's Holm correction); ` +
      'instances = pairs / the share of instances that carry the figure',
    rows: [...skills.map((k) => row(k, () => [k])), row('overall', (x) => [...x.scores.keys()])],
  };
}
