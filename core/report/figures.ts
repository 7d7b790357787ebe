import { bootstrapMeanCi, DEFAULT_BOOTSTRAP, type BootstrapOptions, type Cluster, type MeanCi } from '../stats/bootstrap.js';
import { DIFFICULTY_LEVELS } from '../difficulty.js';
import { SKILL_KEY_ORDER } from '../skills.js';
import { orderSkills, type InstanceScores } from './instanceScores.js';

/** FLASK's domain order (aggregate_domain.py's key_order). */
export const FLASK_DOMAIN_ORDER = ['Humanities', 'Language', 'Social Science', 'History', 'Culture', 'Technology', 'Coding', 'Math', 'Natural Science', 'Health'] as const;

/** A mean with everything behind it: sum and count of scores, N/A count, 95% bootstrap CI. */
export interface Figure extends MeanCi {
  sum: number;
  naCount: number;
}

export interface SkillFigure extends Figure {
  skill: string;
}

export interface DifficultyFigure extends Figure {
  skill: string;
  level: number;
  difficulty: string;
  /** FLASK's "cumu": the mean over levels 1..level, with its own CI */
  cumulative: MeanCi;
  cumulativeSum: number;
}

export interface DomainFigure extends Figure {
  domain: string;
}

export interface RunFigures {
  runId: string;
  /** scored instances */
  instances: number;
  overall: Figure;
  /** skills that occur in the run's scores, FLASK's order */
  skills: SkillFigure[];
  /** every occurring skill x all 5 levels (empty levels too, as FLASK writes them) */
  difficulty: DifficultyFigure[];
  /** domains that occur, FLASK's domain order, then any other */
  domains: DomainFigure[];
  bootstrap: Required<BootstrapOptions>;
}

/**
 * FLASK's three analyses plus an overall mean, each with a percentile bootstrap CI over
 * instances (see core/stats/bootstrap.ts). An instance with several scores in one figure (a
 * domain, overall) is one resampled unit. N/A scores are excluded from means and counted.
 * Each figure's random stream comes from the seed and the figure's name (not the run's), so the
 * same scores give the same interval in any run and whatever else is computed.
 */
export function computeRunFigures(runId: string, rows: readonly InstanceScores[], opts: BootstrapOptions = DEFAULT_BOOTSTRAP): RunFigures {
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
      // At level 1 the cumulative figure is the level's own: the same numbers, the same interval.
      const upTo = level === 1 ? at : fig(`cumulative|${k}|${level}`, withSkill.filter((r) => r.level! <= level), (r) => [r.scores.get(k)!]);
      difficulty.push({
        skill: k, level, difficulty: DIFFICULTY_LEVELS[level - 1], ...at,
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

export { SKILL_KEY_ORDER };
