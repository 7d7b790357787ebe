import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { InputError } from '../../core/errors.js';
import { exportAnswersWithStatus, exportEvalSet, exportFlaskReview } from '../../core/store/exports.js';
import { openReadOnly } from '../readDb.js';
import { strFlag } from '../flags.js';

export const EXPORT_HELP = `flask-eval export RUN --format flask|flask-review|evalset [--out FILE] [--db FILE]
  flask:        the run's responses as FLASK's answer file (question_id, text, model_id); imported answers
                keep the model_id their own line carried
  flask-review: the run's scored reviews as FLASK's review file (gpt_review/gpt4_eval.py's output: the
                evaluation-set line + review, score, target_txt, question_id, domain_labeled,
                difficulty_labeled), which FLASK's aggregate scripts read
  evalset:      an annotation run's labels in the evaluation-set format (idx, instruction, answer, task,
                skill, domain, difficulty), accepted by review and eval (--eval-set / --input)`;

export async function exportCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true, options: { format: { type: 'string' }, out: { type: 'string' }, db: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new InputError(`export takes one run name\n\n${EXPORT_HELP}`);
  const runId = positionals[0];
  const db = openReadOnly(strFlag(v, 'db'));
  const [exists] = await db.run((sql) => sql.all(`SELECT run_id FROM runs WHERE run_id = ?`, [runId]));
  if (!exists) throw new InputError(`no run named "${runId}" in ${db.file} (flask-eval runs lists them)`);
  let lines: unknown[];
  if (v.format === 'flask') {
    const r = await db.run((sql) => exportAnswersWithStatus(sql, runId!));
    if (r.originalIds === 'file-changed') log(`note: the run's answers file changed since the run was created: model_id is the run's model id on every line`);
    if (r.originalIds === 'file-missing') log(`note: the run's answers file is gone: model_id is the run's model id on every line`);
    lines = r.answers;
  } else if (v.format === 'flask-review') {
    const r = await db.run((sql) => exportFlaskReview(sql, runId!));
    if (r.failed || r.notReviewed) log(`${r.failed} failed and ${r.notReviewed} not yet reviewed instance(s) left out (FLASK keeps failed calls out of the review file too)`);
    lines = r.lines;
  } else if (v.format === 'evalset') {
    const r = await db.run((sql) => exportEvalSet(sql, runId!));
    if (r.incomplete.length) log(`${r.incomplete.length} instance(s) left out: a stage failed or is not done yet (e.g. idx ${r.incomplete.slice(0, 5).join(', ')})`);
    lines = r.lines;
  } else {
    throw new InputError(`--format must be flask, flask-review or evalset\n\n${EXPORT_HELP}`);
  }
  const text = lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length ? '\n' : '');
  const out = strFlag(v, 'out');
  if (out) {
    writeFileSync(out, text);
    log(`${lines.length} lines written to ${out}`);
  } else process.stdout.write(text);
}
