import { FLASK_DOMAIN_ORDER, type RunFigures } from './figures.js';
import { SKILL_KEY_ORDER } from '../flask/skills.js';
import type { MeanCi } from '../stats/bootstrap.js';

export type CsvBy = 'skill' | 'difficulty' | 'domain';

/** The file names FLASK's aggregate scripts write for a review file `<name>.jsonl`. */
export const FLASK_CSV_SUFFIX: Record<CsvBy, string> = { skill: '_skill.csv', difficulty: '_difficulty_skill.csv', domain: '_domain.csv' };

/**
 * Python's str() of a float (what FLASK's scripts write): shortest round-trip digits like JS,
 * but integral values keep ".0" and exponents look like 1e-05 / 1e+16.
 */
function pyFloat(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : x < 0 ? '-inf' : 'nan';
  const ax = Math.abs(x);
  if (ax !== 0 && (ax < 1e-4 || ax >= 1e16)) {
    const [m, e] = x.toExponential().split('e');
    const exp = Number(e);
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

/** Python csv.writer's default (excel) dialect: minimal quoting, CRLF line ends. */
function csvRow(cells: readonly string[]): string {
  return cells.map((c) => (/[",\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',') + '\r\n';
}

// FLASK's sums start as the int 0 and turn float with the first score: an empty cell prints "0".
const pySum = (sum: number, count: number) => (count === 0 ? '0' : pyFloat(sum));
const avgOrNa = (sum: number, count: number) => (count === 0 ? 'N/A' : pyFloat(sum / count));
const ciCells = (c: MeanCi, f: RunFigures) => [c.low == null ? 'N/A' : pyFloat(c.low), c.high == null ? 'N/A' : pyFloat(c.high), String(f.bootstrap.seed), String(f.bootstrap.resamples)];
// FLASK's scripts keep only the 12 skills and 10 domains of their key_order lists.
const known = (x: { skill: string }) => (SKILL_KEY_ORDER as readonly string[]).includes(x.skill);
const CI_HEAD = ['ci95_low', 'ci95_high', 'bootstrap_seed', 'bootstrap_resamples'];

/**
 * One run's analysis in the file format of FLASK's aggregate scripts (gpt_review/aggregate_*.py):
 * same header, columns, row set and order, number formatting and line ends. Differences:
 * a count of 0 gives "N/A" where FLASK's skill and domain scripts divide by zero, and unless
 * `flaskExact`, 4 columns are appended: the mean's 95% bootstrap CI and how it was drawn.
 */
export function flaskCsv(f: RunFigures, by: CsvBy, flaskExact = false): string {
  const extra = (c: MeanCi) => (flaskExact ? [] : ciCells(c, f));
  const head = (h: string[]) => csvRow(flaskExact ? h : [...h, ...CI_HEAD]);
  if (by === 'skill') {
    return head(['skill', 'score', 'count', 'avg']) +
      f.skills.filter(known).map((s) => csvRow([s.skill, pySum(s.sum, s.n), String(s.n), avgOrNa(s.sum, s.n), ...extra(s)])).join('');
  }
  if (by === 'difficulty') {
    // FLASK: avg and cumu are "N/A" when their counts are 0 (cumu only until the first scored level).
    return head(['skill', 'difficulty', 'score', 'count', 'avg', 'cumu']) +
      f.difficulty.filter(known).map((d) => csvRow([d.skill, d.difficulty, pySum(d.sum, d.n), String(d.n), avgOrNa(d.sum, d.n), avgOrNa(d.cumulativeSum, d.cumulative.n), ...extra(d)])).join('');
  }
  // FLASK writes only the first word of a domain ("Social", "Natural") under the header "sum".
  return head(['domain', 'sum', 'count', 'avg']) +
    f.domains.filter((d) => (FLASK_DOMAIN_ORDER as readonly string[]).includes(d.domain)).map((d) => csvRow([d.domain.split(' ')[0]!, pySum(d.sum, d.n), String(d.n), avgOrNa(d.sum, d.n), ...extra(d)])).join('');
}
