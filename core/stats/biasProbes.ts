/**
 * Bias probes of a judge, per skill. Definitions (docs/judges.md, "Bias probes"):
 *
 * Length. Over the instances a judge scored on a skill, with w_i = the response's words / 100
 * (words: runs of letters and digits) and s_i its per-instance score:
 * - slope b = cov(s, w) / var(w): score points per 100 words (ordinary least squares);
 * - length-controlled mean (after LC AlpacaEval's idea: fit the length term, then predict with the
 *   length set to a reference): LC = mean(s) − b·(mean(w) − mean(w_ref)), w_ref = the words of the
 *   instances' reference answers / 100: the mean the regression predicts had every response been as
 *   long as the reference answer. With one run, b mixes the judge's length preference with any true
 *   link between length and quality: compare runs (or a judge with itself) before reading it as bias.
 * Skill order. The same responses judged twice, the instance's skills listed in the given order and
 * then reversed (review --skill-order reversed): per skill, the mean paired shift (reversed −
 * given); per position the skill had in the given order, the same (with 3 skills: 1st -> 3rd, 2nd
 * stays, 3rd -> 1st).
 * CIs: percentile bootstrap over instances.
 */
import { deriveSeed, mulberry32 } from './random.js';
import { quantile, type BootstrapOptions } from './bootstrap.js';

/** Words as the length probe counts them: runs of letters and digits. */
export function countWords(text: string): number {
  return (text.match(/[\p{L}\p{N}]+/gu) ?? []).length;
}

export interface LengthPoint {
  score: number;
  words: number;
  referenceWords: number;
}

export interface LengthProbe {
  n: number;
  mean: number | null;
  /** score points per 100 words */
  slope: number | null;
  slopeCi: [number, number] | null;
  /** mean at the reference answers' length */
  lcMean: number | null;
  lcMeanCi: [number, number] | null;
  meanWords: number | null;
  meanReferenceWords: number | null;
}

function lengthFit(ps: readonly LengthPoint[]): { mean: number; slope: number | null; lc: number | null; w: number; wr: number } {
  const n = ps.length;
  let s = 0, w = 0, wr = 0;
  for (const p of ps) { s += p.score; w += p.words / 100; wr += p.referenceWords / 100; }
  s /= n; w /= n; wr /= n;
  let sxy = 0, sxx = 0;
  for (const p of ps) { const dx = p.words / 100 - w; sxy += dx * (p.score - s); sxx += dx * dx; }
  const slope = sxx > 0 ? sxy / sxx : null;
  return { mean: s, slope, lc: slope === null ? null : s - slope * (w - wr), w, wr };
}

function percentileCi(xs: number[], level: number): [number, number] | null {
  if (!xs.length) return null;
  const s = Float64Array.from(xs).sort();
  return [quantile(s, (1 - level) / 2), quantile(s, 1 - (1 - level) / 2)];
}

/** Fewer scores than this give no slope: a line through a handful of points says nothing. */
const LENGTH_PROBE_MIN_N = 10;

export function lengthProbe(points: readonly LengthPoint[], bs: Required<BootstrapOptions>, label: string): LengthProbe {
  if (points.length < LENGTH_PROBE_MIN_N) {
    const mean = points.length ? points.reduce((s, p) => s + p.score, 0) / points.length : null;
    return { n: points.length, mean, slope: null, slopeCi: null, lcMean: null, lcMeanCi: null, meanWords: null, meanReferenceWords: null };
  }
  const f = lengthFit(points);
  const rand = mulberry32(deriveSeed(bs.seed, `length|${label}`));
  const slopes: number[] = [];
  const lcs: number[] = [];
  const draw: LengthPoint[] = new Array(points.length);
  for (let b = 0; b < bs.resamples; b++) {
    for (let i = 0; i < points.length; i++) draw[i] = points[Math.floor(rand() * points.length)]!;
    const g = lengthFit(draw);
    if (g.slope !== null) slopes.push(g.slope);
    if (g.lc !== null) lcs.push(g.lc);
  }
  return {
    n: points.length, mean: f.mean, slope: f.slope, slopeCi: percentileCi(slopes, bs.level), lcMean: f.lc, lcMeanCi: percentileCi(lcs, bs.level),
    meanWords: f.w * 100, meanReferenceWords: f.wr * 100,
  };
}

/** A paired mean difference (b − a) over instances with its bootstrap CI. */
export interface PairedShift {
  n: number;
  shift: number | null;
  ci: [number, number] | null;
}

export function pairedShift(diffs: readonly number[], bs: Required<BootstrapOptions>, label: string): PairedShift {
  if (diffs.length === 0) return { n: 0, shift: null, ci: null };
  const mean = (xs: ArrayLike<number>) => { let s = 0; for (let i = 0; i < xs.length; i++) s += xs[i]!; return s / xs.length; };
  const rand = mulberry32(deriveSeed(bs.seed, `shift|${label}`));
  const means: number[] = [];
  const draw = new Float64Array(diffs.length);
  for (let b = 0; b < bs.resamples; b++) {
    for (let i = 0; i < diffs.length; i++) draw[i] = diffs[Math.floor(rand() * diffs.length)]!;
    means.push(mean(draw));
  }
  return { n: diffs.length, shift: mean(diffs), ci: percentileCi(means, bs.level) };
}
