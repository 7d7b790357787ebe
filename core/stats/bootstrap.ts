import { deriveSeed, mulberry32 } from './random.js';

/** Defaults recorded in every output that shows a CI. */
export const DEFAULT_BOOTSTRAP = { resamples: 1000, seed: 20230720, level: 0.95 } as const;

export interface BootstrapOptions {
  /** Number of bootstrap resamples (B). */
  resamples: number;
  seed: number;
  /** Coverage of the interval, 0.95 by default. */
  level?: number;
}

/**
 * One instance's contribution to a figure: the sum and the count of its (non-N/A) scores that
 * fall in the figure. Per-skill figures have count 1; a domain or overall figure takes all of
 * the instance's skills, so the instance (not the score) is the unit that is resampled.
 */
export interface Cluster {
  sum: number;
  count: number;
}

export interface MeanCi {
  mean: number | null;
  low: number | null;
  high: number | null;
  /** scores behind the mean */
  n: number;
  /** instances behind the mean (the resampled units) */
  instances: number;
}

/**
 * Quantile by linear interpolation between order statistics (Hyndman-Fan type 7, numpy's
 * default): sorted[(n-1)p] interpolated.
 */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * Percentile bootstrap CI of a ratio mean sum(sum)/sum(count) over clusters (instances): draw
 * `resamples` samples of the same number of instances with replacement, compute the mean of
 * each, take the (1-level)/2 and (1+level)/2 quantiles. Deterministic given seed and label.
 */
export function bootstrapMeanCi(clusters: readonly Cluster[], opts: BootstrapOptions, label = ''): MeanCi {
  const used = clusters.filter((c) => c.count > 0);
  const n = used.reduce((a, c) => a + c.count, 0);
  if (used.length === 0) return { mean: null, low: null, high: null, n: 0, instances: 0 };
  const mean = used.reduce((a, c) => a + c.sum, 0) / n;
  const stats = resampleRatio(used, opts.resamples, mulberry32(deriveSeed(opts.seed, label)));
  const level = opts.level ?? DEFAULT_BOOTSTRAP.level;
  return { mean, low: quantile(stats, (1 - level) / 2), high: quantile(stats, (1 + level) / 2), n, instances: used.length };
}

/**
 * Sorted bootstrap distribution of sum/count over clusters: the definition. Reports compute many
 * figures at once with core/stats/resampleBatch.ts (WebAssembly, threads), which gives these
 * numbers exactly (tests/unit/stats.test.ts compares them).
 */
export function resampleRatio(clusters: readonly Cluster[], resamples: number, rand: () => number): number[] {
  const k = clusters.length;
  const out = new Array<number>(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    let c = 0;
    for (let i = 0; i < k; i++) {
      const x = clusters[Math.floor(rand() * k)];
      s += x!.sum;
      c += x!.count;
    }
    out[b] = s / c;
  }
  return out.sort((x, y) => x - y);
}

/** Scores as single-score clusters. */
export function scoresAsClusters(scores: readonly number[]): Cluster[] {
  return scores.map((s) => ({ sum: s, count: 1 }));
}
