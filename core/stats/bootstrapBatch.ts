import { DEFAULT_BOOTSTRAP, quantile, type BootstrapOptions, type MeanCi } from './bootstrap.js';
import { deriveSeed } from './random.js';
import { resampleBatch, type ResampleBatchOptions } from './resampleBatch.js';

/**
 * One figure's clusters as typed arrays: cluster i has sum sums[i] and count counts[i] (counts
 * null: every count is 1). Only clusters with a count > 0, in the order bootstrapMeanCi would get
 * them; the label names the figure's random stream, as for bootstrapMeanCi.
 */
export interface ClusterColumns {
  sums: Float64Array;
  counts: Int32Array | null;
  label: string;
}

/**
 * bootstrapMeanCi for many figures at once: the same mean, n, instances and interval for the same
 * clusters, seed and labels, with the resamples of all figures shared out over threads
 * (core/stats/resampleBatch.ts) instead of one JS loop per figure.
 */
export async function bootstrapMeanCis(figures: readonly ClusterColumns[], opts: BootstrapOptions, batch: ResampleBatchOptions = {}): Promise<MeanCi[]> {
  const level = opts.level ?? DEFAULT_BOOTSTRAP.level;
  const drawn = figures.filter((f) => f.sums.length > 0);
  const dists = await resampleBatch(drawn.map((f) => ({ sums: f.sums, counts: f.counts, seed: deriveSeed(opts.seed, f.label) })), opts.resamples, batch);
  const distOf = new Map(drawn.map((f, i) => [f, dists[i]]));
  return figures.map((f) => {
    const k = f.sums.length;
    if (k === 0) return { mean: null, low: null, high: null, n: 0, instances: 0 };
    // Summed in cluster order, as bootstrapMeanCi's reduce does (the same double additions).
    let n = 0;
    let sum = 0;
    for (let i = 0; i < k; i++) {
      n += f.counts === null ? 1 : f.counts[i]!;
      sum += f.sums[i]!;
    }
    const stats = distOf.get(f)!;
    return { mean: sum / n, low: quantile(stats, (1 - level) / 2), high: quantile(stats, (1 + level) / 2), n, instances: k };
  });
}
