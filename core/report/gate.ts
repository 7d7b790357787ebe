/**
 * A regression gate on a paired comparison (`compare A B --fail-if-worse D`): B fails when, on
 * the overall figure or on any tested skill, it is worse than A by more than D (B - A < -D) and
 * the drop is significant at alpha after Holm's correction across the figures tested (the skills
 * chosen plus overall). So noise alone fails the gate at most alpha of the time (Holm controls
 * the family-wise error), and a significant but smaller drop than D passes (a tolerance the user
 * chooses). The same rule decides the exit status, the markdown summary and the JUnit cases.
 */
import { adjustPValues } from '../stats/multipleTesting.js';
import type { RunComparison } from './compareRuns.js';

export interface GateOptions {
  /** The largest drop tolerated (score points, 1-5 scale). */
  maxDrop: number;
  alpha: number;
  /** Skills to test besides overall; all the figures when unset. */
  skills?: readonly string[];
}

interface GateFigure {
  figure: string;
  diff: number | null;
  low: number | null;
  high: number | null;
  p: number | null;
  /** Holm-adjusted across the figures tested. */
  pAdjusted: number | null;
  failed: boolean;
  /** Why it passed or failed, in words. */
  verdict: string;
}

export interface GateResult {
  passed: boolean;
  options: GateOptions;
  figures: GateFigure[];
}

export function evaluateGate(c: RunComparison, options: GateOptions): GateResult {
  const wanted = options.skills ? new Set([...options.skills, 'overall']) : undefined;
  const tested = c.figures.filter((f) => !wanted || wanted.has(f.figure));
  const adjusted = adjustPValues(tested.map((f) => f.p), 'holm');
  const figures = tested.map((f, i): GateFigure => {
    const pAdjusted = adjusted[i] ?? null;
    const worse = f.diff !== null && f.diff < -options.maxDrop;
    const significant = pAdjusted !== null && pAdjusted < options.alpha;
    const failed = worse && significant;
    const verdict = f.diff === null ? 'no pairs'
      : failed ? `worse by ${(-f.diff).toFixed(3)} > ${options.maxDrop}, significant (Holm p ${fmtP(pAdjusted)} < ${options.alpha})`
      : worse ? `worse by ${(-f.diff).toFixed(3)} but not significant (Holm p ${fmtP(pAdjusted)} >= ${options.alpha})`
      : significant && f.diff < 0 ? `worse by ${(-f.diff).toFixed(3)}, within the tolerated ${options.maxDrop}`
      : 'not worse';
    return { figure: f.figure, diff: f.diff, low: f.low, high: f.high, p: f.p, pAdjusted, failed, verdict };
  });
  return { passed: figures.every((f) => !f.failed), options, figures };
}

export function fmtP(p: number | null): string {
  return p === null ? 'N/A' : p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

const signed = (x: number | null) => (x === null ? 'N/A' : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`);

/** A summary for a pull-request comment. */
export function gateMarkdown(c: RunComparison, g: GateResult): string {
  const head = g.passed ? `### ✅ FLASK gate passed: ${c.b} vs ${c.a}` : `### ❌ FLASK gate failed: ${c.b} is worse than ${c.a}`;
  const rows = g.figures.map((f) => `| ${f.figure} | ${signed(f.diff)} | ${f.low === null ? 'N/A' : `[${signed(f.low)}, ${signed(f.high)}]`} | ${fmtP(f.p)} | ${fmtP(f.pAdjusted)} | ${f.failed ? '❌ ' : ''}${f.verdict} |`);
  return [
    head, '',
    `B - A on the ${c.both} instances both runs scored; fails on a drop larger than ${g.options.maxDrop} that is significant at alpha ${g.options.alpha} (two-sided paired sign-flip test, Holm-corrected over the ${g.figures.length} figures tested).`, '',
    '| figure | B - A | 95% CI | p | Holm p | verdict |', '|---|---|---|---|---|---|', ...rows, '',
  ].join('\n');
}

/** JUnit XML: a test suite per comparison (one, or one per pair of panel judges), a test case per figure. */
export function gateJunit(results: ReadonlyArray<{ c: RunComparison; g: GateResult }>): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const suites = results.map(({ c, g }) => {
    const failures = g.figures.filter((f) => f.failed).length;
    const cases = g.figures.map((f) => {
      const name = `${f.figure}: B - A = ${signed(f.diff)}`;
      return f.failed
        ? `    <testcase classname="flask-gate.${esc(c.b)}" name="${esc(name)}"><failure message="${esc(f.verdict)}">${esc(`${c.b} vs ${c.a}: ${f.verdict}`)}</failure></testcase>`
        : `    <testcase classname="flask-gate.${esc(c.b)}" name="${esc(name)}"/>`;
    });
    return [`  <testsuite name="flask-eval compare ${esc(c.a)} ${esc(c.b)}" tests="${g.figures.length}" failures="${failures}">`, ...cases, '  </testsuite>'];
  });
  const tests = results.reduce((n, { g }) => n + g.figures.length, 0);
  const failures = results.reduce((n, { g }) => n + g.figures.filter((f) => f.failed).length, 0);
  return ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites tests="${tests}" failures="${failures}">`, ...suites.flat(), '</testsuites>', ''].join('\n');
}
