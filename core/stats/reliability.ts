/**
 * A judge's consistency with itself across repeated samples of the same instance (--judge-samples K).
 *
 * Data: per instance i, the k_i >= 2 numeric scores one judge gave one skill (N/A samples left out;
 * instances with fewer than 2 numeric samples are left out).
 * - within-instance SD: sqrt(MSW), MSW = Σ_i Σ_j (x_ij − mean_i)² / Σ_i (k_i − 1): the pooled SD of a
 *   judge's score around its own per-instance mean, in score points.
 * - ICC(1) (one-way random effects, single sample; Shrout & Fleiss 1979, with k0 for unequal k_i):
 *   (MSB − MSW) / (MSB + (k0 − 1)·MSW), MSB = Σ_i k_i (mean_i − grand)² / (n − 1),
 *   k0 = (N − Σ k_i² / N) / (n − 1), N = Σ k_i. 1 = samples of an instance always agree; 0 = the
 *   variation between a judge's samples is as large as the variation between instances.
 * CIs: percentile bootstrap over instances (an instance keeps all its samples).
 * Not covered: variation between runs on different days or model versions of the same endpoint,
 * and variation from the prompt wording (every sample gets the same prompt).
 */
import { deriveSeed, mulberry32 } from './random.js';
import { quantile, type BootstrapOptions } from './bootstrap.js';

export interface SelfConsistency {
  /** instances with >= 2 numeric samples */
  instances: number;
  /** numeric samples in them */
  samples: number;
  sdWithin: number | null;
  icc: number | null;
  sdWithinCi: [number, number] | null;
  iccCi: [number, number] | null;
}

/** MSW-based SD and ICC(1) of the groups (each an instance's samples), or null when undefined. */
export function sdAndIcc(groups: readonly (readonly number[])[]): { sdWithin: number | null; icc: number | null } {
  const gs = groups.filter((g) => g.length >= 2);
  const n = gs.length;
  if (n === 0) return { sdWithin: null, icc: null };
  let N = 0, sumK2 = 0, ssw = 0, dfw = 0, total = 0;
  const means = gs.map((g) => g.reduce((a, b) => a + b, 0) / g.length);
  gs.forEach((g, i) => {
    N += g.length;
    sumK2 += g.length * g.length;
    dfw += g.length - 1;
    total += g.reduce((a, b) => a + b, 0);
    for (const x of g) ssw += (x - means[i]!) ** 2;
  });
  const msw = ssw / dfw;
  const sdWithin = Math.sqrt(msw);
  if (n < 2) return { sdWithin, icc: null };
  const grand = total / N;
  let ssb = 0;
  gs.forEach((g, i) => (ssb += g.length * (means[i]! - grand) ** 2));
  const msb = ssb / (n - 1);
  const k0 = (N - sumK2 / N) / (n - 1);
  const denom = msb + (k0 - 1) * msw;
  return { sdWithin, icc: denom === 0 ? null : (msb - msw) / denom };
}

/** Self-consistency with bootstrap CIs over instances (seeded by the options and `label`). */
export function selfConsistency(groups: readonly (readonly number[])[], bs: Required<BootstrapOptions>, label: string): SelfConsistency {
  const gs = groups.filter((g) => g.length >= 2);
  const point = sdAndIcc(gs);
  const out: SelfConsistency = { instances: gs.length, samples: gs.reduce((a, g) => a + g.length, 0), ...point, sdWithinCi: null, iccCi: null };
  if (gs.length < 2) return out;
  const rand = mulberry32(deriveSeed(bs.seed, `self-consistency|${label}`));
  const sds: number[] = [];
  const iccs: number[] = [];
  const pick: (readonly number[])[] = new Array(gs.length);
  for (let b = 0; b < bs.resamples; b++) {
    for (let i = 0; i < gs.length; i++) pick[i] = gs[Math.floor(rand() * gs.length)]!;
    const r = sdAndIcc(pick);
    if (r.sdWithin !== null) sds.push(r.sdWithin);
    if (r.icc !== null) iccs.push(r.icc);
  }
  const ci = (xs: number[]): [number, number] | null => {
    if (xs.length === 0) return null;
    const s = Float64Array.from(xs).sort();
    return [quantile(s, (1 - bs.level) / 2), quantile(s, 1 - (1 - bs.level) / 2)];
  };
  return { ...out, sdWithinCi: ci(sds), iccCi: ci(iccs) };
}
