import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { itemKey, judgeAgreementByGroup, type AgreementSummary, type JudgeScore } from '../../core/stats/agreement.js';
import type { Sql } from '../../core/store/database.js';
import { runJudges } from '../../core/report/scoreSources.js';
import { openReadOnly } from '../readDb.js';
import { strFlag } from '../flags.js';

export const JUDGE_AGREEMENT_HELP = `flask-eval judge-agreement RUN [--format table|json] [--db FILE]
  Agreement of a run's judges (a panel: --judge ... --judge ...) on the same instances, per skill
  and overall: Spearman and Kendall tau-b per judge pair, Krippendorff's alpha (ordinal) over all
  judges, exact and within-one agreement, each with its counts. N/A scores are left out.`;

/** One judge's score of one (instance, skill), from the scores view (scored reviews only). */
interface PanelScore extends JudgeScore {
  skill: string;
  /** FLASK's order of the skill (skill_catalog), for listing. */
  skillOrder: number;
}

/** A run's panel: its judges (id, model, profile) in the order they were given (J1 = the first --judge), and their scores. */
export async function panelScores(sql: Pick<Sql, 'all'>, runId: string): Promise<{ judges: Array<{ id: string; model: string; profile: string }>; scores: PanelScore[] }> {
  const judges = await runJudges(sql, runId);
  const rows = await sql.all(
    `SELECT idx, skill_key, skill_order, judge_id, score FROM scores WHERE run_id = ? AND score IS NOT NULL ORDER BY idx, skill_order, judge_id`,
    [runId],
  );
  return {
    judges: judges.map((j) => ({ id: j.id, model: j.model, profile: j.profile })),
    scores: rows.map((r) => ({ item: itemKey(Number(r.idx), String(r.skill_key)), judge: String(r.judge_id), score: Number(r.score), skill: String(r.skill_key), skillOrder: Number(r.skill_order) })),
  };
}

/** Per skill (in FLASK's skill order) and overall; judge pairs in `order` (the panel's judge ids as given). */
export function panelAgreement(scores: readonly PanelScore[], judgeOrder: readonly string[] = []): { overall: AgreementSummary; bySkill: Array<[string, AgreementSummary]> } {
  const { overall, groups } = judgeAgreementByGroup(scores, (s) => s.skill, judgeOrder);
  const order = new Map(scores.map((s) => [s.skill, s.skillOrder]));
  return { overall, bySkill: [...groups].sort(([a], [b]) => (order.get(a) ?? 0) - (order.get(b) ?? 0)) };
}

const f3 = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
const rate = (r: { count: number; n: number; rate: number | null }) => `${r.count}/${r.n}${r.rate === null ? '' : ` (${(100 * r.rate).toFixed(1)}%)`}`;

/** The table: one line per skill and overall; a pair's correlations on its own line when there are more than two judges. */
export function formatPanelAgreement(judges: Array<{ id: string; model: string; profile: string }>, a: ReturnType<typeof panelAgreement>): string {
  const names = new Map(judges.map((j, k) => [j.id, `J${k + 1}`]));
  const lines = judges.map((j, k) => `J${k + 1} = ${j.model} (${j.profile}) [${j.id}]`);
  lines.push('', 'skill                    items  spearman  kendall  alpha(ord)  exact          within one');
  const row = (label: string, s: AgreementSummary) => {
    const pair = s.pairs.length === 1 ? s.pairs[0] : undefined;
    lines.push(
      `${label.padEnd(24)} ${String(s.items).padStart(5)}  ${(pair ? f3(pair.spearman) : '-').padStart(8)}  ${(pair ? f3(pair.kendallTauB) : '-').padStart(7)}  ` +
        `${f3(s.krippendorffAlpha).padStart(10)}  ${rate(s.exact).padEnd(13)}  ${rate(s.withinOne)}`,
    );
    if (s.pairs.length > 1) {
      for (const p of s.pairs) lines.push(`  ${names.get(p.a)}-${names.get(p.b)}`.padEnd(25) + `${String(p.n).padStart(5)}  ${f3(p.spearman).padStart(8)}  ${f3(p.kendallTauB).padStart(7)}`);
    }
  };
  for (const [skill, s] of a.bySkill) row(skill, s);
  row('overall', a.overall);
  return lines.join('\n');
}

export async function judgeAgreementCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { db: { type: 'string' }, format: { type: 'string', default: 'table' } } });
  if (positionals.length !== 1) throw new InputError(`judge-agreement takes one run name\n\n${JUDGE_AGREEMENT_HELP}`);
  const runId = positionals[0];
  const db = openReadOnly(strFlag(v, 'db'));
  const { panel, run } = await db.run(async (sql) => ({
    panel: await panelScores(sql, runId!),
    run: await sql.one(`SELECT simulated FROM runs WHERE run_id = ?`, [runId]),
  }));
  if (!run) throw new InputError(`no run named "${runId}" in ${db.file}`);
  if (panel.judges.length < 2) {
    throw new InputError(`run "${runId}" has ${panel.judges.length} judge(s): agreement needs a panel (review --run ${runId} --judge model=M,base-url=U,profile=P, repeated)`);
  }
  const a = panelAgreement(panel.scores, panel.judges.map((j) => j.id));
  if (v.format === 'json') {
    process.stdout.write(JSON.stringify({ run: runId, simulated: run.simulated, judges: panel.judges, overall: a.overall, bySkill: Object.fromEntries(a.bySkill) }, null, 2) + '\n');
    return;
  }
  if (run.simulated) log('note: SIMULATED judges (offline server): these figures show the pipeline, not a judge');
  process.stdout.write(formatPanelAgreement(panel.judges, a) + '\n');
}
