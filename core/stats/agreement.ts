/**
 * Agreement of two or more judges scoring the same items (an item = one instance's one skill):
 * Spearman's rho and Kendall's tau-b per pair of judges, Krippendorff's alpha over all judges,
 * and the share of exact and within-one agreement, each with the counts behind it.
 *
 * Definitions (so that the figures can be checked by hand):
 *   - Spearman: Pearson correlation of average ranks (ties get the mean rank).
 *   - Kendall tau-b: (C - D) / sqrt((n0 - n1)(n0 - n2)), n0 = n(n-1)/2, n1/n2 = pairs tied in x/y.
 *   - Krippendorff's alpha (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability"):
 *     alpha = 1 - (n - 1) * sum_ck o_ck d2_ck / sum_ck n_c n_k d2_ck over the coincidence matrix o
 *     of the items with at least two scores (each item's pairs weighted 1/(m_u - 1)); ordinal
 *     d2_ck = (sum_{g=c..k} n_g - (n_c + n_k)/2)^2, interval (c - k)^2, nominal [c != k].
 *   - exact / within one: over every pair of judges that both scored an item (for two judges,
 *     over the items both scored).
 * A figure that is undefined (fewer than 2 items, or a judge that gave one constant score, or no
 * variation at all for alpha) is null, never 0 or NaN.
 */

/** One judge's score of one item. Items are opaque keys (see itemKey); not-applicable scores are left out by the caller. */
export interface JudgeScore {
  item: string;
  judge: string;
  score: number;
}

export interface Rate {
  /** items (or judge pairs on items) that agree */
  count: number;
  /** items (or judge pairs on items) compared */
  n: number;
  /** count / n, null when n = 0 */
  rate: number | null;
}

interface PairAgreement {
  a: string;
  b: string;
  /** items both judges scored */
  n: number;
  spearman: number | null;
  kendallTauB: number | null;
  exact: Rate;
  withinOne: Rate;
}

export interface AgreementSummary {
  judges: string[];
  /** items scored by at least two judges (the items every figure is about) */
  items: number;
  /** scores on those items (Krippendorff's n) */
  values: number;
  krippendorffAlpha: number | null;
  pairs: PairAgreement[];
  /** pooled over all judge pairs on all items */
  exact: Rate;
  withinOne: Rate;
}

export type AlphaMetric = 'nominal' | 'ordinal' | 'interval';

/** The item key of one instance's one skill. */
export const itemKey = (idx: number, skill: string): string => `${idx}\u0000${skill}`;

const rate = (count: number, n: number): Rate => ({ count, n, rate: n === 0 ? null : count / n });

/** Average ranks (1-based), ties sharing the mean of the ranks they span. */
export function averageRanks(x: readonly number[]): number[] {
  const order = x.map((v, i) => [v, i] as const).sort((p, q) => p[0] - q[0]);
  const ranks = new Array<number>(x.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = r;
    i = j + 1;
  }
  return ranks;
}

function pearson(x: readonly number[], y: readonly number[]): number | null {
  const n = x.length;
  if (n < 2) return null;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  if (sxx === 0 || syy === 0) return null;
  return sxy / Math.sqrt(sxx * syy);
}

function sameLength(x: readonly number[], y: readonly number[]): void {
  if (x.length !== y.length) throw new RangeError(`paired scores differ in length (${x.length} and ${y.length})`);
}

/** Spearman's rho with average ranks for ties; null when undefined. */
export function spearman(x: readonly number[], y: readonly number[]): number | null {
  sameLength(x, y);
  return pearson(averageRanks(x), averageRanks(y));
}

/** Kendall's tau-b (ties corrected); null when undefined. O(n^2): a few thousand items at most. */
export function kendallTauB(x: readonly number[], y: readonly number[]): number | null {
  sameLength(x, y);
  const n = x.length;
  if (n < 2) return null;
  let c = 0, d = 0, tx = 0, ty = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const sx = Math.sign(x[i]! - x[j]!);
      const sy = Math.sign(y[i]! - y[j]!);
      if (sx === 0) tx++;
      if (sy === 0) ty++;
      if (sx !== 0 && sy !== 0) {
        if (sx === sy) c++;
        else d++;
      }
    }
  }
  const n0 = (n * (n - 1)) / 2;
  const den = Math.sqrt((n0 - tx) * (n0 - ty));
  return den === 0 ? null : (c - d) / den;
}

/**
 * Krippendorff's alpha. `units`: per item, the scores it got (any number of judges; missing ones
 * simply absent). Items with fewer than two scores are not pairable and are left out.
 */
export function krippendorffAlpha(units: readonly (readonly number[])[], metric: AlphaMetric = 'ordinal'): number | null {
  const pairable = units.filter((u) => u.length >= 2);
  const values = [...new Set(pairable.flat())].sort((a, b) => a - b);
  const at = new Map(values.map((v, i) => [v, i]));
  const V = values.length;
  const o = Array.from({ length: V }, () => new Array<number>(V).fill(0));
  for (const u of pairable) {
    const w = 1 / (u.length - 1);
    for (let i = 0; i < u.length; i++) {
      for (let j = 0; j < u.length; j++) if (i !== j) o[at.get(u[i]!)!]![at.get(u[j]!)!]! += w;
    }
  }
  const nc = o.map((row) => row.reduce((s, v) => s + v, 0));
  const n = nc.reduce((s, v) => s + v, 0);
  const delta2 = (c: number, k: number): number => {
    if (metric === 'nominal') return c === k ? 0 : 1;
    if (metric === 'interval') return (values[c]! - values[k]!) ** 2;
    const [lo, hi] = c < k ? [c, k] : [k, c];
    let s = 0;
    for (let g = lo; g <= hi; g++) s += nc[g]!;
    return (s - (nc[c]! + nc[k]!) / 2) ** 2;
  };
  let dObs = 0, dExp = 0;
  for (let c = 0; c < V; c++) {
    for (let k = 0; k < V; k++) {
      const d2 = delta2(c, k);
      dObs += o[c]![k]! * d2;
      dExp += nc[c]! * nc[k]! * d2;
    }
  }
  if (n < 2 || dExp === 0) return null;
  return 1 - ((n - 1) * dObs) / dExp;
}

/**
 * Every figure for the judges' scores on the same items (duplicates of (item, judge) are a caller bug).
 * Judges and pairs follow `order` (a panel's command-line order); judges not in it come after, sorted.
 */
export function judgeAgreement(scores: readonly JudgeScore[], order: readonly string[] = []): AgreementSummary {
  const byItem = new Map<string, Map<string, number>>();
  for (const s of scores) {
    if (!Number.isFinite(s.score)) throw new RangeError(`score of ${s.judge} on item ${JSON.stringify(s.item)} is not a number (${s.score})`);
    let m = byItem.get(s.item);
    if (!m) byItem.set(s.item, (m = new Map()));
    if (m.has(s.judge)) throw new RangeError(`judge ${s.judge} scored item ${JSON.stringify(s.item)} twice`);
    m.set(s.judge, s.score);
  }
  const seen = new Set(scores.map((s) => s.judge));
  const judges = [...order.filter((j) => seen.has(j)), ...[...seen].filter((j) => !order.includes(j)).sort()];
  const shared = [...byItem.values()].filter((m) => m.size >= 2);

  const pairs: PairAgreement[] = [];
  let exact = 0, within = 0, compared = 0;
  for (let i = 0; i < judges.length; i++) {
    for (let j = i + 1; j < judges.length; j++) {
      const [a, b] = [judges[i], judges[j]];
      const x: number[] = [], y: number[] = [];
      for (const m of shared) {
        if (m.has(a!) && m.has(b!)) {
          x.push(m.get(a!)!);
          y.push(m.get(b!)!);
        }
      }
      const ex = x.filter((v, k) => v === y[k]).length;
      const w1 = x.filter((v, k) => Math.abs(v - y[k]!) <= 1).length;
      exact += ex;
      within += w1;
      compared += x.length;
      pairs.push({ a: a!, b: b!, n: x.length, spearman: spearman(x, y), kendallTauB: kendallTauB(x, y), exact: rate(ex, x.length), withinOne: rate(w1, x.length) });
    }
  }
  const units = shared.map((m) => [...m.values()]);
  return {
    judges,
    items: shared.length,
    values: units.reduce((s, u) => s + u.length, 0),
    krippendorffAlpha: krippendorffAlpha(units, 'ordinal'),
    pairs,
    exact: rate(exact, compared),
    withinOne: rate(within, compared),
  };
}

/** judgeAgreement per group (e.g. per skill) and over all scores ('overall'). */
export function judgeAgreementByGroup<T extends JudgeScore>(scores: readonly T[], groupOf: (s: T) => string, order: readonly string[] = []): { overall: AgreementSummary; groups: Map<string, AgreementSummary> } {
  const groups = new Map<string, T[]>();
  for (const s of scores) {
    const g = groupOf(s);
    let list = groups.get(g);
    if (!list) groups.set(g, (list = []));
    list.push(s);
  }
  return { overall: judgeAgreement(scores, order), groups: new Map([...groups].map(([g, list]) => [g, judgeAgreement(list, order)])) };
}
