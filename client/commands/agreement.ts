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
  const { a, run } = await db.run(async (sql) => ({
    a: await annotationAgreement(sql, positionals[0]),
    run: await sql.one(`SELECT simulated, judge_model FROM runs WHERE run_id = ?`, [positionals[0]]),
  }));
  if (!run) throw new InputError(`no run named "${positionals[0]}" in ${db.file}`);
  if (v.format === 'json') {
    process.stdout.write(JSON.stringify({ run: positionals[0], simulated: run.simulated, ...a }, null, 2) + '\n');
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
