import { DEFAULT_BOOTSTRAP, type BootstrapOptions, type MeanCi } from '../stats/bootstrap.js';
import { bootstrapMeanCis, type ClusterColumns } from '../stats/bootstrapBatch.js';
import { DIFFICULTY_LEVELS } from '../flask/difficulty.js';

import { orderSkills } from './instanceScores.js';
import type { RunScores } from './runScores.js';
import type { ScoreSource } from './scoreSources.js';

/** FLASK's domain order (aggregate_domain.py's key_order). */
export const FLASK_DOMAIN_ORDER = ['Humanities', 'Language', 'Social Science', 'History', 'Culture', 'Technology', 'Coding', 'Math', 'Natural Science', 'Health'] as const;

/** A mean with everything behind it: sum and count of scores, N/A count, 95% bootstrap CI. */
export interface Figure extends MeanCi {
  sum: number;
  naCount: number;
}

interface SkillFigure extends Figure {
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

interface DomainFigure extends Figure {
  domain: string;
}

/** What a report shows: per skill, the overall mean, per skill x difficulty, per domain. */
export type Analysis = 'skill' | 'overall' | 'difficulty' | 'domain';
export const ALL_ANALYSES: readonly Analysis[] = ['skill', 'overall', 'difficulty', 'domain'];

/** The figures of one run. Analyses not asked for are left out: empty lists, no `overall`. */
export interface RunFigures {
  runId: string;
  /** the report column: the run's name, or "RUN@J1" / "RUN@pooled" for a panel (default runId) */
  column?: string;
  /** where the column's scores come from (which judge, or pooled) */
  source?: ScoreSource;
  /** scored instances */
  instances: number;
  overall?: Figure;
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
 * same scores give the same interval in any run and whatever else is computed, and an analysis
 * not asked for can be skipped without changing the others. All runs' figures are resampled in
 * one batch (core/stats/bootstrapBatch.ts), which gives bootstrapMeanCi's numbers.
 */
export async function computeFigures(
  runs: readonly { runId: string; scores: RunScores }[], opts: BootstrapOptions = DEFAULT_BOOTSTRAP, analyses: readonly Analysis[] = ALL_ANALYSES,
): Promise<RunFigures[]> {
  const bs: Required<BootstrapOptions> = { resamples: opts.resamples, seed: opts.seed, level: opts.level ?? DEFAULT_BOOTSTRAP.level };
  const plans = runs.map((r) => planRun(r.runId, r.scores, new Set(analyses)));
  const all = plans.flatMap((p) => p.figures);
  const cis = await bootstrapMeanCis(all.map((f) => f.columns()), bs);
  const ciOf = new Map(all.map((f, i) => [f, cis[i]]));
  return plans.map((p) => p.assemble((f) => ({ ...ciOf.get(f)!, sum: f.sum, naCount: f.naCount }), bs));
}

/**
 * One figure's members, instance by instance, as the original per-figure loop met them: each
 * member adds its scores' sum (0 when all N/A) to the figure's sum and its N/A count, and becomes
 * a cluster (sum, count) when it has a score.
 */
class FigureClusters {
  sum = 0;
  naCount = 0;
  private k = 0;
  private allOnes = true;
  private sums = new Float64Array(64);
  private counts = new Int32Array(64);

  constructor(readonly label: string) {}

  add(s: number, c: number, na: number): void {
    this.sum += s;
    this.naCount += na;
    if (c === 0) return;
    if (this.k === this.sums.length) {
      const sums = new Float64Array(this.k * 2);
      const counts = new Int32Array(this.k * 2);
      sums.set(this.sums);
      counts.set(this.counts);
      this.sums = sums;
      this.counts = counts;
    }
    this.sums[this.k] = s;
    this.counts[this.k] = c;
    if (c !== 1) this.allOnes = false;
    this.k++;
  }

  /** A member with one score (a skill's): NaN is N/A. */
  addScore(v: number): void {
    if (Number.isNaN(v)) this.add(0, 0, 1);
    else this.add(0 + v, 1, 0);
  }

  columns(): ClusterColumns {
    return { sums: this.sums.subarray(0, this.k), counts: this.allOnes ? null : this.counts.subarray(0, this.k), label: this.label };
  }
}

/** The figures one run needs, filled in one pass per analysis, and how to assemble them once their CIs are known. */
function planRun(runId: string, d: RunScores, analyses: ReadonlySet<Analysis>) {
  const figures: FigureClusters[] = [];
  const make = (label: string) => {
    const f = new FigureClusters(label);
    figures.push(f);
    return f;
  };
  const present = new Set<number>();
  for (let e = 0; e < d.key.length; e++) present.add(d.key[e]!);
  const skillKeys = orderSkills([...present].map((k) => d.skillKeys[k]!));
  const keyIndex = skillKeys.map((k) => d.skillKeys.indexOf(k));

  const bySkill = new Map<number, FigureClusters>();
  if (analyses.has('skill')) {
    skillKeys.forEach((k, i) => bySkill.set(keyIndex[i]!, make(`skill|${k}`)));
    for (let e = 0; e < d.key.length; e++) bySkill.get(d.key[e]!)!.addScore(d.value[e]!);
  }

  // Per skill, per level: the level's own figure and the cumulative one (levels 1..level; at
  // level 1 it is the level's own figure).
  const atLevel = new Map<number, FigureClusters[]>();
  const upToLevel = new Map<number, FigureClusters[]>();
  if (analyses.has('difficulty')) {
    skillKeys.forEach((k, i) => {
      const at = DIFFICULTY_LEVELS.map((_, l) => make(`difficulty|${k}|${l + 1}`));
      atLevel.set(keyIndex[i]!, at);
      upToLevel.set(keyIndex[i]!, at.map((f, l) => (l === 0 ? f : make(`cumulative|${k}|${l + 1}`))));
    });
    for (let i = 0; i < d.instances; i++) {
      const level = d.level[i];
      if (level === 0) continue;
      for (let e = d.first[i]!; e < d.first[i + 1]!; e++) {
        atLevel.get(d.key[e]!)![level! - 1]!.addScore(d.value[e!]!);
        const upTo = upToLevel.get(d.key[e]!)!;
        for (let l = Math.max(level!, 2); l <= DIFFICULTY_LEVELS.length; l++) upTo[l - 1]!.addScore(d.value[e!]!);
      }
    }
  }

  // An instance's sum, count and N/A count over all its scores, for the domain and overall figures.
  const instanceTotals = (i: number): [number, number, number] => {
    let s = 0;
    let c = 0;
    let na = 0;
    for (let e = d.first[i]!; e < d.first[i + 1]!; e++) {
      if (Number.isNaN(d.value[e!])) na++;
      else {
        s += d.value[e!]!;
        c++;
      }
    }
    return [s, c, na];
  };

  let domainOrder: string[] = [];
  const byDomain = new Map<number, FigureClusters>();
  if (analyses.has('domain')) {
    const dom = d.domains!;
    const seen = new Set<number>();
    for (let x = 0; x < dom.ids.length; x++) seen.add(dom.ids[x]!);
    const names = new Set([...seen].map((x) => dom.names[x]));
    domainOrder = [...FLASK_DOMAIN_ORDER.filter((n) => names.has(n)), ...([...names].filter((n) => !(FLASK_DOMAIN_ORDER as readonly string[]).includes(n!)) as string[]).sort()];
    for (const name of domainOrder) byDomain.set(dom.names.indexOf(name), make(`domain|${name}`));
    const mine = new Set<number>();
    for (let i = 0; i < d.instances; i++) {
      if (dom.first[i] === dom.first[i + 1]) continue;
      const [s, c, na] = instanceTotals(i);
      mine.clear();
      for (let x = dom.first[i]!; x < dom.first[i + 1]!; x++) mine.add(dom.ids[x]!);
      for (const id of mine) byDomain.get(id)!.add(s, c, na);
    }
  }

  const overall = analyses.has('overall') ? make('overall') : undefined;
  if (overall) for (let i = 0; i < d.instances; i++) overall.add(...instanceTotals(i));

  return {
    figures,
    assemble(figure: (f: FigureClusters) => Figure, bs: Required<BootstrapOptions>): RunFigures {
      const difficulty: DifficultyFigure[] = [];
      for (const [i, k] of skillKeys.entries()) {
        const at = atLevel.get(keyIndex[i]!);
        if (!at) continue;
        const upTo = upToLevel.get(keyIndex[i]!)!;
        DIFFICULTY_LEVELS.forEach((name, l) => {
          const a = figure(at[l]!);
          const u = l === 0 ? a : figure(upTo[l]!);
          difficulty.push({
            skill: k, level: l + 1, difficulty: name, ...a,
            cumulative: { mean: u.mean, low: u.low, high: u.high, n: u.n, instances: u.instances }, cumulativeSum: u.sum,
          });
        });
      }
      return {
        runId, instances: d.instances, overall: overall ? figure(overall) : undefined,
        skills: analyses.has('skill') ? skillKeys.map((k, i) => ({ skill: k, ...figure(bySkill.get(keyIndex[i]!)!) })) : [],
        difficulty,
        domains: domainOrder.map((name) => ({ domain: name, ...figure(byDomain.get(d.domains!.names.indexOf(name))!) })),
        bootstrap: bs,
      };
    },
  };
}

