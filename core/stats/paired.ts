import { deriveSeed, mulberry32 } from './random.js';
import { quantile, resampleRatio, type BootstrapOptions, type Cluster } from './bootstrap.js';

export interface PairedResult {
  /** instances both runs scored (for this figure) */
  instances: number;
  /** score pairs behind the difference */
  n: number;
  meanA: number | null;
  meanB: number | null;
  /** mean of B - A over the pairs */
  diff: number | null;
  low: number | null;
  high: number | null;
  /** two-sided paired sign-flip permutation p-value */
  p: number | null;
  /** 'exact' when all 2^instances sign patterns were enumerated, else 'monte-carlo' */
  pMethod: 'exact' | 'monte-carlo' | null;
}

/** An instance's paired scores for one figure: sums and count over the skills both runs scored. */
export interface PairedCluster {
  sumA: number;
  sumB: number;
  count: number;
}

/** Up to 2^16 sign patterns are enumerated exactly; past that, Monte Carlo with `resamples` draws. */
const EXACT_LIMIT = 16;

/**
 * Paired comparison of two runs on the same instances. The difference is the mean over score
 * pairs of (B - A); its CI is a percentile bootstrap over instances; the p-value is a paired
 * permutation test: under "no difference" each instance's A and B labels are exchangeable, so
 * the sign of its summed difference is flipped at random. p = share of sign patterns whose
 * |mean difference| is at least the observed one (Monte Carlo: (1 + hits) / (1 + draws)).
 */
export function pairedTest(pairs: readonly PairedCluster[], opts: BootstrapOptions, label = ''): PairedResult {
  const used = pairs.filter((p) => p.count > 0);
  const n = used.reduce((a, p) => a + p.count, 0);
  if (used.length === 0) return { instances: 0, n: 0, meanA: null, meanB: null, diff: null, low: null, high: null, p: null, pMethod: null };
  const sumA = used.reduce((a, p) => a + p.sumA, 0);
  const sumB = used.reduce((a, p) => a + p.sumB, 0);
  const d = used.map((p) => p.sumB - p.sumA);
  const diff = (sumB - sumA) / n;
  const clusters: Cluster[] = used.map((p, i) => ({ sum: d[i], count: p.count }));
  const level = opts.level ?? 0.95;
  const dist = resampleRatio(clusters, opts.resamples, mulberry32(deriveSeed(opts.seed, `${label}|bootstrap`)));
  const { p, method } = signFlipP(d, opts, label);
  return {
    instances: used.length, n, meanA: sumA / n, meanB: sumB / n, diff,
    low: quantile(dist, (1 - level) / 2), high: quantile(dist, (1 + level) / 2), p, pMethod: method,
  };
}

/** Two-sided sign-flip p-value of sum(d) (the count is fixed, so sum and mean are equivalent). */
export function signFlipP(d: readonly number[], opts: BootstrapOptions, label = ''): { p: number; method: 'exact' | 'monte-carlo' } {
  // A tolerance so that patterns equal to the observed value up to rounding count as "as extreme".
  const observed = Math.abs(d.reduce((a, x) => a + x, 0)) - 1e-9;
  const k = d.length;
  if (k <= EXACT_LIMIT) {
    let hits = 0;
    const total = 2 ** k;
    for (let mask = 0; mask < total; mask++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += mask & (1 << i) ? -d[i] : d[i];
      if (Math.abs(s) >= observed) hits++;
    }
    return { p: hits / total, method: 'exact' };
  }
  const rand = mulberry32(deriveSeed(opts.seed, `${label}|permutation`));
  let hits = 0;
  for (let b = 0; b < opts.resamples; b++) {
    let s = 0;
    for (let i = 0; i < k; i++) s += rand() < 0.5 ? -d[i] : d[i];
    if (Math.abs(s) >= observed) hits++;
  }
  return { p: (1 + hits) / (1 + opts.resamples), method: 'monte-carlo' };
}
