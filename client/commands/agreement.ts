import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { annotationAgreement } from '../../core/report/agreement.js';
import { openReadOnly } from '../readDb.js';
import { strFlag } from '../flags.js';

export const AGREEMENT_HELP = `flask-eval agreement RUN [--format table|json] [--db FILE]
  Agreement of an annotation run with the labels its input carried (FLASK's own labels when the
  input was the evaluation set): domain match, skill-set overlap and top-1, difficulty exact / within one level.`;

export async function agreementCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { db: { type: 'string' }, format: { type: 'string', default: 'table' } } });
  if (positionals.length !== 1) throw new InputError(`agreement takes one run name\n\n${AGREEMENT_HELP}`);
  const db = openReadOnly(strFlag(v, 'db'));
  const runId = positionals[0];
  const { a, run, labels } = await db.run(async (sql) => ({
    a: await annotationAgreement(sql, runId!),
    run: await sql.one(`SELECT simulated, judge_model, kind FROM runs WHERE run_id = ?`, [runId]),
    labels: (await sql.one<{ labelled: number; annotated: number }>(
      `SELECT (SELECT count(*) FROM instances WHERE run_id = $1 AND (len(skills) > 0 OR len(domains) > 0 OR difficulty IS NOT NULL))::INTEGER AS labelled,
              (SELECT count(*) FROM annotations WHERE run_id = $1 AND status = 'labelled')::INTEGER AS annotated`,
      [runId],
    ))!,
  }));
  if (!run) throw new InputError(`no run named "${runId}" in ${db.file}`);
  // A rate over nothing is not 0%: say what is missing instead (exit 2).
  if (run.kind !== 'annotate') throw new InputError(`run ${runId} is a ${String(run.kind)} run, not an annotation run: agreement compares flask-eval annotate's labels with the input's`);
  if (labels.labelled === 0) {
    throw new InputError(`run ${runId} has no reference labels to compare against: its input carried no "skill", "domain" or "difficulty" (annotate an evaluation-set file, e.g. data/flask/evaluation_set/flask_evaluation.jsonl, to measure agreement)`);
  }
  if (labels.annotated === 0) throw new InputError(`run ${runId} has no labelled annotations yet: wait for the run to land some (flask-eval status ${runId})`);
  if (v.format === 'json') {
    process.stdout.write(JSON.stringify({ run: runId, simulated: run.simulated, ...a }, null, 2) + '\n');
    return;
  }
  if (run.simulated) log('note: labelled by the offline annotator: SIMULATED, this shows the pipeline, not a real annotator');
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  process.stdout.write(
    `annotator ${run.judge_model} vs reference labels\n` +
      `domain      n=${a.domain.compared}  exact match ${pct(a.domain.exactMatch)}  any overlap ${pct(a.domain.anyOverlap)}\n` +
      `skill set   n=${a.skillset.compared}  mean overlap ${pct(a.skillset.meanOverlap)}  top-1 match ${pct(a.skillset.top1Match)}\n` +
      `difficulty  n=${a.difficulty.compared}  exact ${pct(a.difficulty.exact)}  within one level ${pct(a.difficulty.withinOne)}\n`,
  );
}
