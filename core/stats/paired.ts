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
  /** 'exact': the whole sign-flip distribution; 'monte-carlo': random patterns (see pSe) */
  pMethod: 'exact' | 'monte-carlo' | null;
  /** Monte Carlo only: the p-value's standard error and the patterns drawn. */
  pSe?: number;
  pDraws?: number;
}

/** An instance's paired scores for one figure: sums and count over the skills both runs scored. */
export interface PairedCluster {
  sumA: number;
  sumB: number;
  count: number;
}

/** Past this many possible sums, an exact distribution would not be cheap: Monte Carlo instead. */
const EXACT_MAX_SPAN = 4_000_000;
/** Any differences: up to 2^16 sign patterns are enumerated one by one. */
const ENUMERATE_MAX = 16;
/** Monte Carlo: draws per round, and at most this many in all. */
const MC_BLOCK = 10_000;
const MC_MAX = 2_000_000;

/**
 * Paired comparison of two runs on the same instances. The difference is the mean over score
 * pairs of (B - A); its CI is a percentile bootstrap over instances; the p-value is a paired
 * permutation test: under "no difference" each instance's A and B labels are exchangeable, so
 * the sign of its summed difference is flipped at random. p = share of sign patterns whose
 * |mean difference| is at least the observed one (see signFlipP for exact vs Monte Carlo).
 */
export function pairedTest(pairs: readonly PairedCluster[], opts: BootstrapOptions, label = ''): PairedResult {
  const used = pairs.filter((p) => p.count > 0);
  const n = used.reduce((a, p) => a + p.count, 0);
  if (used.length === 0) return { instances: 0, n: 0, meanA: null, meanB: null, diff: null, low: null, high: null, p: null, pMethod: null };
  const sumA = used.reduce((a, p) => a + p.sumA, 0);
  const sumB = used.reduce((a, p) => a + p.sumB, 0);
  const d = used.map((p) => p.sumB - p.sumA);
  const diff = (sumB - sumA) / n;
  const clusters: Cluster[] = used.map((p, i) => ({ sum: d[i]!, count: p.count }));
  const level = opts.level ?? 0.95;
  const dist = resampleRatio(clusters, opts.resamples, mulberry32(deriveSeed(opts.seed, `${label}|bootstrap`)));
  const sf = signFlipP(d, opts, label);
  return {
    instances: used.length, n, meanA: sumA / n, meanB: sumB / n, diff,
    low: quantile(dist, (1 - level) / 2), high: quantile(dist, (1 + level) / 2), p: sf.p, pMethod: sf.method,
    ...(sf.se !== undefined ? { pSe: sf.se, pDraws: sf.draws } : {}),
  };
}

/** How a sign-flip p-value was had, and how sure it is. */
export interface SignFlipP {
  p: number;
  /**
   * 'exact': the whole permutation distribution (every one of the 2^k sign patterns, counted by
   * their sums); 'monte-carlo': random patterns, with `draws` and the standard error `se`.
   */
  method: 'exact' | 'monte-carlo';
  draws?: number;
  se?: number;
}

/**
 * Two-sided sign-flip p-value of sum(d) (the count is fixed, so sum and mean are equivalent).
 *
 * Exact whenever the differences are integers (FLASK's scores are, so every comparison of two
 * runs is): the distribution of sum(±d_i) under random signs is built by convolution over the
 * possible sums, O(k × span), about 0.1 s for 1,700 instances. Other differences: enumerated up
 * to 16 instances, Monte Carlo past that, in rounds of 10,000 random patterns until the decision
 * at `alpha` is clear (|p - alpha| > 3 standard errors) or 2,000,000 patterns;
 * p = (1 + hits) / (1 + draws), with its standard error.
 */
export function signFlipP(d: readonly number[], opts: BootstrapOptions, label = '', alpha = 0.05): SignFlipP {
  // A tolerance so that patterns equal to the observed value up to rounding count as "as extreme".
  const observed = Math.abs(d.reduce((a, x) => a + x, 0)) - 1e-9;
  const ints = d.map((x) => Math.round(x));
  const integral = d.every((x, i) => Math.abs(x - ints[i]!) < 1e-9);
  const span = ints.reduce((a, x) => a + Math.abs(x), 0);
  if (integral && 2 * span + 1 <= EXACT_MAX_SPAN) return { p: exactTail(ints, span, observed), method: 'exact' };
  if (d.length <= ENUMERATE_MAX) return { p: enumeratedTail(d, observed), method: 'exact' };
  const rand = mulberry32(deriveSeed(opts.seed, `${label}|permutation`));
  let hits = 0;
  let draws = 0;
  for (;;) {
    for (let b = 0; b < MC_BLOCK; b++) {
      let s = 0;
      for (let i = 0; i < d.length; i++) s += rand() < 0.5 ? -d[i]! : d[i]!;
      if (Math.abs(s) >= observed) hits++;
    }
    draws += MC_BLOCK;
    const p = (1 + hits) / (1 + draws);
    const se = Math.sqrt((p * (1 - p)) / draws);
    if (Math.abs(p - alpha) > 3 * se || draws >= MC_MAX) return { p, method: 'monte-carlo', draws, se };
  }
}

/** P(|sum of ±d_i| >= observed), every sign pattern enumerated. */
function enumeratedTail(d: readonly number[], observed: number): number {
  let hits = 0;
  const total = 2 ** d.length;
  for (let mask = 0; mask < total; mask++) {
    let s = 0;
    for (let i = 0; i < d.length; i++) s += mask & (1 << i) ? -d[i]! : d[i]!;
    if (Math.abs(s) >= observed) hits++;
  }
  return hits / total;
}

/** P(|sum of ±x_i| >= observed) under independent fair signs, for integers x_i (|x| summing to span). */
function exactTail(xs: readonly number[], span: number, observed: number): number {
  // prob[s + span] = P(partial sum = s); only the reachable band [-reach, reach] is touched.
  let prob = new Float64Array(2 * span + 1);
  let next = new Float64Array(2 * span + 1);
  prob[span] = 1;
  let reach = 0;
  for (const x of xs) {
    const v = Math.abs(x);
    if (v === 0) continue;
    next.fill(0, span - reach - v, span + reach + v + 1);
    for (let i = span - reach; i <= span + reach; i++) {
      const q = prob[i]!;
      if (q === 0) continue;
      next[i - v]! += q / 2;
      next[i + v]! += q / 2;
    }
    reach += v;
    [prob, next] = [next, prob];
  }
  let tail = 0;
  for (let i = 0; i < prob.length; i++) if (Math.abs(i - span) >= observed) tail += prob[i]!;
  return Math.min(1, tail);
}
