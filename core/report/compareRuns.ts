import { pairedTest, type PairedCluster, type PairedResult } from '../stats/paired.js';
import type { BootstrapOptions } from '../stats/bootstrap.js';
import { orderSkills, type InstanceScores } from './instanceScores.js';

interface PairedFigure extends PairedResult {
  /** skill key, or "overall" */
  figure: string;
}

export interface RunComparison {
  a: string;
  b: string;
  scoredA: number;
  scoredB: number;
  both: number;
  onlyA: number[];
  onlyB: number[];
  figures: PairedFigure[];
  bootstrap: BootstrapOptions;
}

/** One instance's pair on `keys`: the sums and count over the skills both runs scored (not N/A). */
export function pairScores(x: InstanceScores, y: InstanceScores, keys: readonly string[]): PairedCluster {
  let sumA = 0;
  let sumB = 0;
  let count = 0;
  for (const k of keys) {
    const sa = x.scores.get(k);
    const sb = y.scores.get(k);
    if (sa == null || sb == null) continue;
    sumA += sa;
    sumB += sb;
    count++;
  }
  return { sumA, sumB, count };
}

/**
 * Paired comparison of two runs on the instances both scored: per skill, the pairs are the
 * instances where both runs gave that skill a score (not N/A); overall, each common instance
 * contributes all the skills both runs scored. Difference = B - A.
 */
export function compareRuns(a: string, b: string, rowsA: readonly InstanceScores[], rowsB: readonly InstanceScores[], bs: BootstrapOptions): RunComparison {
  const byIdxB = new Map(rowsB.map((r) => [r.idx, r]));
  const idxA = new Set(rowsA.map((r) => r.idx));
  const common = rowsA.filter((r) => byIdxB.has(r.idx)).map((r) => [r, byIdxB.get(r.idx)!] as const);
  const skills = orderSkills(common.flatMap(([x]) => [...x.scores.keys()]));
  const label = `${a}|${b}`;
  const figures: PairedFigure[] = skills.map((k) => ({ figure: k, ...pairedTest(common.map(([x, y]) => pairScores(x, y, [k])), bs, `${label}|${k}`) }));
  figures.push({ figure: 'overall', ...pairedTest(common.map(([x, y]) => pairScores(x, y, [...x.scores.keys()])), bs, `${label}|overall`) });
  return {
    a, b, scoredA: rowsA.length, scoredB: rowsB.length, both: common.length,
    onlyA: rowsA.filter((r) => !byIdxB.has(r.idx)).map((r) => r.idx),
    onlyB: rowsB.filter((r) => !idxA.has(r.idx)).map((r) => r.idx),
    figures, bootstrap: bs,
  };
}
