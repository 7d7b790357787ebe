import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { compareRuns, type RunComparison } from '../../core/report/compareRuns.js';
import { loadInstanceScores } from '../../core/report/instanceScores.js';
import { readProvenance } from '../../core/report/provenance.js';
import { judgeLegend, POOLED_DEFINITION, resolveScoreSources, type ScoreSource } from '../../core/report/scoreSources.js';
import { textTable } from '../../core/report/textTable.js';
import { strFlag } from '../flags.js';
import { bootstrapFromFlags, withReader } from './report.js';

export const COMPARE_HELP = `flask-eval compare RUN_A RUN_B [--pooled] [--format table|json] [--bootstrap 1000] [--seed 20230720] [--db FILE]
  Paired comparison on the instances both runs scored, per skill and overall: mean of A and B on
  those pairs, the difference B - A, its 95% bootstrap CI (instances resampled) and a two-sided
  paired permutation (sign-flip) p-value. Says when the runs' instance sets differ.
  Panels are compared judge by judge: the judges both runs have (same endpoint, model and profile),
  else every judge of A with every judge of B; --pooled compares the pooled figures too (see
  flask-eval report --help). RUN@J2 or RUN@pooled picks one column of a panel.`;

const f3 = (x: number | null) => (x === null ? 'N/A' : x.toFixed(3));
const signed = (x: number | null) => (x === null ? 'N/A' : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`);
const pfmt = (p: number | null) => (p === null ? 'N/A' : p < 0.001 ? p.toExponential(1) : p.toFixed(3));

function comparisonText(c: RunComparison): string {
  const lines: string[] = [];
  lines.push(`B - A with A = ${c.a}, B = ${c.b}: ${c.both} instances scored by both (A scored ${c.scoredA}, B ${c.scoredB})`);
  if (c.onlyA.length || c.onlyB.length) {
    const ex = (xs: number[]) => `${xs.length}${xs.length ? ` (idx ${xs.slice(0, 8).join(', ')}${xs.length > 8 ? ', ...' : ''})` : ''}`;
    lines.push(`note: the instance sets differ: only A scored ${ex(c.onlyA)}, only B scored ${ex(c.onlyB)}; the figures below use the ${c.both} common instances only`);
  }
  lines.push(`95% CI: percentile bootstrap over instances, B=${c.bootstrap.resamples}, seed=${c.bootstrap.seed}; p: two-sided paired sign-flip permutation test (${c.figures.some((f) => f.pMethod === 'monte-carlo') ? `Monte Carlo, ${c.bootstrap.resamples} draws, so p >= ${pfmt(1 / (c.bootstrap.resamples + 1))}` : 'exact'}); 13 tests, no multiple-comparison correction`, '');
  const rows = c.figures.map((f) => [f.figure, String(f.n), f3(f.meanA), f3(f.meanB), signed(f.diff), f.low === null ? 'N/A' : `[${signed(f.low)}, ${signed(f.high)}]`, pfmt(f.p)]);
  lines.push(textTable(['skill', 'pairs', `A mean`, `B mean`, 'B - A', '95% CI', 'p'], rows).trimEnd());
  return lines.join('\n') + '\n';
}

export async function compareCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { db: { type: 'string' }, format: { type: 'string', default: 'table' }, bootstrap: { type: 'string' }, seed: { type: 'string' }, pooled: { type: 'boolean' } },
  });
  if (positionals.length !== 2) throw new InputError(`compare takes two run names\n\n${COMPARE_HELP}`);
  if (!['table', 'json'].includes(v.format as string)) throw new InputError(`--format must be table or json (got "${v.format}")`);
  const [a, b] = positionals;
  const bs = bootstrapFromFlags(v);
  const { prov, scores, pairs } = await withReader(strFlag(v, 'db'), async (r, where) => {
    const prov = await readProvenance(r, [a, b].map((n) => n.split('@')[0]));
    for (const n of [a, b]) if (!prov.some((p) => p.runId === n.split('@')[0])) throw new InputError(`no run named "${n.split('@')[0]}" in ${where} (flask-eval runs lists them)`);
    const [sa, sb] = [await resolveScoreSources(r, [a], { pooled: !!v.pooled }), await resolveScoreSources(r, [b], { pooled: !!v.pooled })];
    return { prov, pairs: comparisonPairs(sa, sb), scores: await loadInstanceScores(r, [...sa, ...sb]) };
  });
  const sim = prov.filter((p) => p.simulated).map((p) => p.runId);
  if (sim.length) log(`note: ${sim.join(', ')}: produced by the offline endpoint: SIMULATED figures`);
  const cs = pairs.map(([x, y]) => compareRuns(x.label, y.label, scores.get(x.label) ?? [], scores.get(y.label) ?? [], bs));
  const legends = [...new Set(pairs.flatMap((p) => p.filter((s) => s.judge).map((s) => `${s.runId}@${judgeLegend(s.judge!)}`)))];
  if (v.format === 'json') process.stdout.write(JSON.stringify(cs.length === 1 ? cs[0] : cs, null, 2) + '\n');
  else process.stdout.write([...legends, ...(pairs.some((p) => p.some((s) => s.pooled)) ? [POOLED_DEFINITION] : []), ...(legends.length ? [''] : []), cs.map(comparisonText).join('\n')].join('\n'));
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
