import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { judgeReliability, LOW_ALPHA, LOW_ICC, orderProbe, type OrderProbe, type RunReliability } from '../../core/report/judgeReliability.js';
import { judgeLegend } from '../../core/report/scoreSources.js';
import { textTable } from '../../core/report/textTable.js';
import { loadPriceTable } from '../../core/cost/pricing.js';
import { DEFAULT_BOOTSTRAP } from '../../core/stats/bootstrap.js';
import { strFlag } from '../flags.js';
import { bootstrapFromFlags, withReader } from './report.js';

export const JUDGE_REPORT_HELP = `flask-eval judge-report RUN [--order-probe RUN_REVERSED] [--format table|json] [--bootstrap 1000] [--seed 20230720] [--prices FILE] [--db FILE]
  How far the run's judges can be trusted, per judge and per skill: self-consistency across
  repeated samples (review --judge-samples K: within-instance SD and ICC(1)), agreement with the
  run's other judges (a panel: Krippendorff's alpha, Spearman, exact / within-one), the N/A rate,
  parse failures and re-asks, cost and endpoint time per 1,000 instances; 95% percentile
  bootstrap CIs over instances. Skills with alpha < ${LOW_ALPHA} or ICC < ${LOW_ICC} are flagged LOW.
  Bias probes: per skill the score's slope per 100 words of response and the length-controlled mean
  (at the reference answers' length); self-preference flagged when judge and evaluated model share
  a family by name; --order-probe RUN_REVERSED (the same answers judged with review --skill-order
  reversed): per skill and per position, the mean paired shift reversed - given.
  Definitions and what they do not cover: docs/judges.md.`;

const f2 = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x.toFixed(2));
const f3 = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x.toFixed(3));
const ci = (x: number | null | undefined, c: [number, number] | null | undefined) => (x === null || x === undefined ? '-' : `${f2(x)} [${f2(c?.[0])}, ${f2(c?.[1])}]`);
const pct = (r: { count: number; n: number; rate: number | null }) => (r.rate === null ? '-' : `${(100 * r.rate).toFixed(1)}% (${r.count}/${r.n})`);

/** The report as text: a block per judge (its totals, then one line per skill). */
export function judgeReportText(rep: RunReliability): string {
  const lines: string[] = [];
  lines.push(`judge-report ${rep.runId}: ${rep.judges.length} judge(s); 95% CIs: percentile bootstrap over instances, B=${rep.bootstrap.resamples}, seed=${rep.bootstrap.seed}`);
  for (const j of rep.judges) {
    lines.push('', judgeLegend(j.judge), `  samples per instance K=${j.samples}; reviews ${j.reviews}; failed ${pct(j.failed)}; re-asked answers ${pct(j.reasks)}; ` +
      `${j.calls} calls, ${j.promptTokens}+${j.completionTokens} tokens; cost ${j.usd === undefined ? 'n/a (no price)' : `$${j.usd.toFixed(4)}`}` +
      `, per 1,000 instances ${j.usdPer1000 === undefined ? 'n/a' : `$${j.usdPer1000.toFixed(2)}`} and ${j.callSecondsPer1000 === null ? '-' : `${j.callSecondsPer1000.toFixed(0)} s`} of endpoint time`);
    const rows = j.skills.map((s) => [
      s.skill, String(s.instances), f3(s.mean), pct(s.na),
      s.self ? ci(s.self.sdWithin, s.self.sdWithinCi) : '-', s.self ? ci(s.self.icc, s.self.iccCi) : '-',
      s.agreement ? ci(s.agreement.alpha, s.agreement.alphaCi) : '-', s.agreement ? f2(s.agreement.spearman) : '-',
      s.agreement ? pct(s.agreement.exact) : '-', s.agreement ? pct(s.agreement.withinOne) : '-', s.flags.length ? `LOW: ${s.flags.join('; ')}` : '',
    ]);
    lines.push(textTable(['skill', 'n', 'mean', 'N/A', 'within-SD', 'ICC(1)', 'alpha(ord)', 'spearman', 'exact', 'within one', 'flag'], rows).trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
    const labelled = j.skills.filter((s) => s.human);
    if (labelled.length) {
      lines.push('  against human labels (import-labels): alpha over the judge and the annotators; spearman, exact, within one: the judge vs each annotator, pooled');
      lines.push(textTable(['skill', 'annotators', 'pairs', 'judge-human alpha', 'spearman', 'exact', 'within one', 'human-human alpha'], labelled.map((s) => [
        s.skill, String(s.human!.annotators), String(s.human!.judgeHuman.exact.n), ci(s.human!.judgeHuman.alpha, s.human!.judgeHuman.alphaCi), f2(s.human!.judgeHuman.spearman),
        pct(s.human!.judgeHuman.exact), pct(s.human!.judgeHuman.withinOne), f2(s.human!.humanAlpha),
      ])).trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
    }
    const sp = j.selfPreference;
    lines.push(`  self-preference: judge family ${sp.judgeFamily ?? 'unknown'}, evaluated model family ${sp.modelFamily ?? 'unknown'}${sp.flagged ? ' -> FLAGGED: same family, its scores may favour its own kind' : ''}`);
    lines.push('  length probe (words = runs of letters/digits): slope = score points per 100 words; LC mean = mean at the reference answers\' length');
    lines.push(textTable(['skill', 'n', 'mean', 'slope /100 words', 'LC mean', 'mean words', 'ref words'], j.skills.map((s) => [
      s.skill, String(s.length.n), f3(s.length.mean), ci(s.length.slope, s.length.slopeCi), ci(s.length.lcMean, s.length.lcMeanCi),
      s.length.meanWords === null ? '-' : s.length.meanWords.toFixed(0), s.length.meanReferenceWords === null ? '-' : s.length.meanReferenceWords.toFixed(0),
    ])).trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
  }
  return lines.join('\n') + '\n';
}

export function orderProbeText(o: OrderProbe): string {
  const lines = [`skill-order probe: ${o.reversed} (skills reversed) - ${o.given} (given order), paired by instance and skill; 95% bootstrap CIs`];
  lines.push(textTable(['skill', 'pairs', 'shift'], o.bySkill.map((s) => [s.skill, String(s.n), ci(s.shift, s.ci)])).trimEnd());
  lines.push(textTable(['position in given order', 'pairs', 'shift'], o.byPosition.map((p) => [`${p.position} of ${p.skills}`, String(p.n), ci(p.shift, p.ci)])).trimEnd());
  return lines.join('\n') + '\n';
}

export async function judgeReportCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { db: { type: 'string' }, format: { type: 'string', default: 'table' }, bootstrap: { type: 'string' }, seed: { type: 'string' }, prices: { type: 'string' }, 'order-probe': { type: 'string' } },
  });
  if (positionals.length !== 1) throw new InputError(`judge-report takes one run name\n\n${JUDGE_REPORT_HELP}`);
  if (!['table', 'json'].includes(v.format as string)) throw new InputError(`--format must be table or json (got "${v.format}")`);
  const runId = positionals[0];
  const bs = { ...bootstrapFromFlags(v), level: DEFAULT_BOOTSTRAP.level };
  const prices = loadPriceTable(strFlag(v, 'prices'));
  const { rep, simulated, order } = await withReader(strFlag(v, 'db'), async (r, where) => {
    const [run] = await r.all(`SELECT simulated FROM runs WHERE run_id = ?`, [runId]);
    if (!run) throw new InputError(`no run named "${runId}" in ${where} (flask-eval runs lists them)`);
    const probe = strFlag(v, 'order-probe');
    return { rep: await judgeReliability(r, runId!, bs, prices), simulated: !!run.simulated, order: probe ? await orderProbe(r, runId!, probe, bs) : undefined };
  });
  if (rep.judges.length === 0) throw new InputError(`run "${runId}" has no reviews yet`);
  if (simulated) log('note: SIMULATED judges (offline server): these figures show the pipeline, not a judge');
  process.stdout.write(v.format === 'json' ? JSON.stringify({ ...rep, ...(order ? { orderProbe: order } : {}) }, null, 2) + '\n'
    : judgeReportText(rep) + (order ? '\n' + orderProbeText(order) : ''));
}
