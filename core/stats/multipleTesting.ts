/**
 * Multiple-comparison corrections: adjusted p-values, compared with alpha as they are.
 * Holm (1979) controls the family-wise error rate (the chance of any false "significant") under
 * any dependence between the tests, uniformly more powerful than Bonferroni; Benjamini-Hochberg
 * (1995) controls the false discovery rate (the expected share of false ones among those called
 * significant), for independent or positively dependent tests.
 */
export type Correction = 'holm' | 'bh' | 'none';

/** Adjusted p-values in the order given; null stays null (a figure with no pairs). */
export function adjustPValues(ps: readonly (number | null)[], method: Correction): (number | null)[] {
  const present = ps.flatMap((p, i) => (p === null ? [] : [{ p, i }]));
  const m = present.length;
  const out: (number | null)[] = ps.map(() => null);
  if (method === 'none') return [...ps];
  if (method === 'holm') {
    present.sort((a, b) => a.p - b.p);
    let running = 0;
    present.forEach(({ p, i }, rank) => {
      running = Math.max(running, Math.min(1, (m - rank) * p));
      out[i] = running;
    });
    return out;
  }
  present.sort((a, b) => b.p - a.p);
  let running = 1;
  present.forEach(({ p, i }, k) => {
    const rank = m - k; // 1-based rank in ascending order
    running = Math.min(running, Math.min(1, (p * m) / rank));
    out[i] = running;
  });
  return out;
}
