import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { InputError } from '../../core/errors.js';
import { exportAnswers, exportEvalSet } from '../../core/store/exports.js';
import { openReadOnly } from '../readDb.js';
import { strFlag } from '../flags.js';

export const EXPORT_HELP = `flask-eval export RUN --format flask|evalset [--out FILE] [--db FILE]
  flask:   the run's responses as FLASK's answer file (question_id, text, model_id)
  evalset: an annotation run's labels in the evaluation-set format (idx, instruction, answer, task,
           skill, domain, difficulty), accepted by review and eval (--eval-set / --input)`;

export async function exportCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true, options: { format: { type: 'string' }, out: { type: 'string' }, db: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new InputError(`export takes one run name\n\n${EXPORT_HELP}`);
  const runId = positionals[0];
  const db = openReadOnly(strFlag(v, 'db'));
  let lines: unknown[];
  if (v.format === 'flask') {
    lines = await db.run((sql) => exportAnswers(sql, runId));
  } else if (v.format === 'evalset') {
    const r = await db.run((sql) => exportEvalSet(sql, runId));
    if (r.incomplete.length) log(`${r.incomplete.length} instance(s) left out: a stage failed or is not done yet (e.g. idx ${r.incomplete.slice(0, 5).join(', ')})`);
    lines = r.lines;
  } else {
    throw new InputError(`--format must be flask or evalset\n\n${EXPORT_HELP}`);
  }
  const text = lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length ? '\n' : '');
  const out = strFlag(v, 'out');
  if (out) {
    writeFileSync(out, text);
    log(`${lines.length} lines written to ${out}`);
  } else process.stdout.write(text);
}
