import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { compareRuns, type RunComparison } from '../../core/report/compareRuns.js';
import { loadInstanceScores } from '../../core/report/instanceScores.js';
import { readProvenance } from '../../core/report/provenance.js';
import { judgeLegend, POOLED_DEFINITION, resolveScoreSources, type ScoreSource } from '../../core/report/scoreSources.js';
import { textTable } from '../../core/report/textTable.js';
import { strFlag } from '../flags.js';
import { writeFileSync } from 'node:fs';
import { evaluateGate, fmtP, gateJunit, gateMarkdown, type GateOptions } from '../../core/report/gate.js';
import { EXIT } from '../output/exitCodes.js';
import { bootstrapFromFlags, withReader } from './report.js';
import { comparePlan } from './comparePlan.js';

export const COMPARE_HELP = `flask-eval compare RUN_A RUN_B [--pooled] [--format table|json|markdown] [--bootstrap 1000] [--seed 20230720] [--db FILE]
       [--fail-if-worse D [--alpha 0.05] [--skills a,b] [--junit FILE]]
  Paired comparison on the instances both runs scored, per skill and overall: mean of A and B on
  those pairs, the difference B - A, its 95% bootstrap CI (instances resampled) and a two-sided
  paired permutation (sign-flip) p-value, exact for FLASK's integer scores. Says when the runs'
  instance sets differ.
  --fail-if-worse D: a gate for CI. Exit 5 when B is worse than A by more than D (B - A < -D) on
  overall or on a tested skill (--skills; default all) and that drop is significant at --alpha
  after Holm's correction over the figures tested (panels: every pair of judges compared must pass).
  --format markdown prints the verdict for a pull-request comment; --junit FILE writes one JUnit
  test case per figure.
  Panels are compared judge by judge: the judges both runs have (same endpoint, model and profile),
  else every judge of A with every judge of B; --pooled compares the pooled figures too (see
  flask-eval report --help). RUN@J2 or RUN@pooled picks one column of a panel.
  --plan D [--power 0.8] [--alpha 0.05]: power analysis instead of the comparison: per skill and
  overall, the instances needed to detect a difference of D score points, from the SD of the
  per-instance differences B - A these two runs show (a pilot, earlier checkpoints); the method
  is printed with the figures.`;

const f3 = (x: number | null) => (x === null ? 'N/A' : x.toFixed(3));
const signed = (x: number | null) => (x === null ? 'N/A' : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`);

function comparisonText(c: RunComparison): string {
  const lines: string[] = [];
  lines.push(`B - A with A = ${c.a}, B = ${c.b}: ${c.both} instances scored by both (A scored ${c.scoredA}, B ${c.scoredB})`);
  if (c.onlyA.length || c.onlyB.length) {
    const ex = (xs: number[]) => `${xs.length}${xs.length ? ` (idx ${xs.slice(0, 8).join(', ')}${xs.length > 8 ? ', ...' : ''})` : ''}`;
    lines.push(`note: the instance sets differ: only A scored ${ex(c.onlyA)}, only B scored ${ex(c.onlyB)}; the figures below use the ${c.both} common instances only`);
  }
  const mc = c.figures.filter((f) => f.pMethod === 'monte-carlo');
  const method = mc.length === 0 ? 'exact: the whole permutation distribution'
    : `exact where the differences are integers; Monte Carlo for ${mc.map((f) => f.figure).join(', ')} (largest standard error ${fmtP(Math.max(...mc.map((f) => f.pSe ?? 0)))})`;
  lines.push(`95% CI: percentile bootstrap over instances, B=${c.bootstrap.resamples}, seed=${c.bootstrap.seed}; p: two-sided paired sign-flip permutation test (${method}); ${c.figures.length} tests, no multiple-comparison correction (--fail-if-worse applies Holm's)`, '');
  const rows = c.figures.map((f) => [f.figure, String(f.n), f3(f.meanA), f3(f.meanB), signed(f.diff), f.low === null ? 'N/A' : `[${signed(f.low)}, ${signed(f.high)}]`, fmtP(f.p)]);
  lines.push(textTable(['skill', 'pairs', `A mean`, `B mean`, 'B - A', '95% CI', 'p'], rows).trimEnd());
  return lines.join('\n') + '\n';
}

export async function compareCommand(argv: string[], log: (s: string) => void): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      db: { type: 'string' }, format: { type: 'string', default: 'table' }, bootstrap: { type: 'string' }, seed: { type: 'string' }, pooled: { type: 'boolean' },
      'fail-if-worse': { type: 'string' }, alpha: { type: 'string' }, skills: { type: 'string' }, junit: { type: 'string' },
      plan: { type: 'string' }, power: { type: 'string' },
    },
  });
  if (v.plan !== undefined) return comparePlan(positionals, v, log);
  if (positionals.length !== 2) throw new InputError(`compare takes two run names\n\n${COMPARE_HELP}`);
  if (!['table', 'json', 'markdown'].includes(v.format as string)) throw new InputError(`--format must be table, json or markdown (got "${v.format}")`);
  const gateOptions = gateFromFlags(v);
  const [a, b] = positionals;
  const bs = bootstrapFromFlags(v);
  const { prov, scores, pairs } = await withReader(strFlag(v, 'db'), async (r, where) => {
    const prov = await readProvenance(r, [a, b].map((n) => n!.split('@')[0]!));
    for (const n of [a, b]) if (!prov.some((p) => p.runId === n!.split('@')[0])) throw new InputError(`no run named "${n!.split('@')[0]}" in ${where} (flask-eval runs lists them)`);
    const [sa, sb] = [await resolveScoreSources(r, [a!], { pooled: !!v.pooled }), await resolveScoreSources(r, [b!], { pooled: !!v.pooled })];
    return { prov, pairs: comparisonPairs(sa, sb), scores: await loadInstanceScores(r, [...sa, ...sb]) };
  });
  const sim = prov.filter((p) => p.simulated).map((p) => p.runId);
  if (sim.length) log(`note: ${sim.join(', ')}: produced by the offline endpoint: SIMULATED figures`);
  const cs = pairs.map(([x, y]) => compareRuns(x.label, y.label, scores.get(x.label) ?? [], scores.get(y.label) ?? [], bs));
  const legends = [...new Set(pairs.flatMap((p) => p.filter((s) => s.judge).map((s) => `${s.runId}@${judgeLegend(s.judge!)}`)))];
  const gated = gateOptions ? cs.map((c) => ({ c, g: evaluateGate(c, gateOptions) })) : undefined;
  for (const { c, g } of gated ?? []) {
    const unknown = (g.options.skills ?? []).filter((s) => !c.figures.some((f) => f.figure === s));
    if (unknown.length) throw new InputError(`--skills: ${unknown.join(', ')} not scored by both runs (they scored: ${c.figures.map((f) => f.figure).join(', ')})`);
  }
  if (v.format === 'json') {
    const out = gated ? gated.map(({ c, g }) => ({ ...c, gate: g })) : cs;
    process.stdout.write(JSON.stringify(out.length === 1 ? out[0] : out, null, 2) + '\n');
  } else if (v.format === 'markdown') {
    process.stdout.write((gated ?? cs.map((c) => ({ c, g: evaluateGate(c, { maxDrop: 0, alpha: 0.05 }) }))).map(({ c, g }) => gateMarkdown(c, g)).join('\n'));
  } else {
    process.stdout.write([...legends, ...(pairs.some((p) => p.some((s) => s.pooled)) ? [POOLED_DEFINITION] : []), ...(legends.length ? [''] : []), cs.map(comparisonText).join('\n')].join('\n'));
    for (const { g } of gated ?? []) {
      process.stdout.write(`\ngate (--fail-if-worse ${g.options.maxDrop}, alpha ${g.options.alpha}, Holm over ${g.figures.length} figures): ${g.passed ? 'PASSED' : 'FAILED'}\n${g.figures.filter((f) => f.failed).map((f) => `  ${f.figure}: ${f.verdict}\n`).join('')}`);
    }
  }
  if (gated && strFlag(v, 'junit')) writeFileSync(strFlag(v, 'junit')!, gateJunit(gated));
  return gated?.some(({ g }) => !g.passed) ? EXIT.gateFailed : EXIT.ok;
}

function gateFromFlags(v: Record<string, string | boolean | undefined>): GateOptions | undefined {
  const raw = strFlag(v, 'fail-if-worse');
  if (raw === undefined) {
    for (const f of ['alpha', 'skills', 'junit']) if (v[f] !== undefined) throw new InputError(`--${f} goes with --fail-if-worse D`);
    return undefined;
  }
  const maxDrop = Number(raw);
  if (!Number.isFinite(maxDrop) || maxDrop < 0) throw new InputError(`--fail-if-worse takes the largest tolerated drop in score points, >= 0 (got "${raw}")`);
  const alpha = Number(strFlag(v, 'alpha') ?? 0.05);
  if (!(alpha > 0 && alpha < 1)) throw new InputError(`--alpha must be between 0 and 1 (got "${v.alpha}")`);
  const skills = strFlag(v, 'skills')?.split(',').map((s) => s.trim()).filter(Boolean);
  return { maxDrop, alpha, ...(skills ? { skills } : {}) };
}

/**
 * Which columns are compared: one-judge runs with each other; a panel judge with the same judge
 * (same id: endpoint, model and profile) of the other run when they share any; else every column
 * of A with every column of B. Pooled columns pair with pooled columns.
 */
export function comparisonPairs(a: readonly ScoreSource[], b: readonly ScoreSource[]): Array<[ScoreSource, ScoreSource]> {
  const judged = (xs: readonly ScoreSource[]) => xs.filter((s) => !s.pooled);
  const shared = judged(a).filter((x) => x.judge && judged(b).some((y) => y.judge?.id === x.judge!.id));
  const pairs: Array<[ScoreSource, ScoreSource]> = shared.length
    ? shared.map((x) => [x, judged(b).find((y) => y.judge?.id === x.judge!.id)!])
    : judged(a).flatMap((x) => judged(b).map((y): [ScoreSource, ScoreSource] => [x, y]));
  const pa = a.find((s) => s.pooled);
  const pb = b.find((s) => s.pooled);
  if (pa && pb) pairs.push([pa, pb]);
  else if (pa || pb) for (const x of pa ? judged(b) : judged(a)) pairs.push(pa ? [pa, x] : [x, pb!]);
  return pairs;
}
