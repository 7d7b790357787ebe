/**
 * Sample size for a paired comparison (compare --plan): the normal approximation to the paired
 * test, n = ((z[1 - alpha'/2] + z[power]) * sd / delta)^2, where sd is the standard deviation of
 * the per-instance differences B - A and alpha' = alpha / tests (Bonferroni: the bound on Holm's
 * first step, so the figure holds for the gate's correction too). The sign-flip test the gate uses
 * has the paired t-test's large-sample power, which is what this formula gives.
 */

/** The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1) (got ${p})`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

export interface PowerSettings {
  /** the difference to detect, in score points (> 0) */
  delta: number;
  alpha: number;
  /** 1 - beta */
  power: number;
  /** figures tested together (the correction's size) */
  tests: number;
}

/** z[1 - alpha'/2] + z[power]: the multiplier of sd / sqrt(n) a detectable difference needs. */
function zSum(s: Omit<PowerSettings, 'delta'>): number {
  return normalQuantile(1 - s.alpha / s.tests / 2) + normalQuantile(s.power);
}

/** Pairs needed to detect `delta` with this sd of the differences (at least 2). */
export function pairsNeeded(sd: number, s: PowerSettings): number {
  if (sd === 0) return 2;
  return Math.max(2, Math.ceil(((zSum(s) * sd) / s.delta) ** 2));
}

/** The smallest difference `n` pairs detect with this sd at the settings' alpha and power. */
export function detectableDifference(sd: number, n: number, s: Omit<PowerSettings, 'delta'>): number {
  return (zSum(s) * sd) / Math.sqrt(n);
}

/** Sample standard deviation (n - 1). */
export function sampleSd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}
