import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { readFailures } from '../../core/report/failures.js';
import { textTable } from '../../core/report/textTable.js';
import { strFlag } from '../flags.js';
import { withReader } from './report.js';

export const FAILURES_HELP = `flask-eval failures RUN [--full] [--format table|json] [--db FILE]
  The run's failed instances: stage (generate, review, domain, skillset, difficulty), reason and
  attempts. Reasons longer than 120 characters are cut ("...") unless --full.`;

export async function failuresCommand(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { db: { type: 'string' }, full: { type: 'boolean' }, format: { type: 'string', default: 'table' } },
  });
  if (positionals.length !== 1) throw new InputError(`failures takes one run name\n\n${FAILURES_HELP}`);
  if (!['table', 'json'].includes(v.format as string)) throw new InputError(`--format must be table or json (got "${v.format}")`);
  const runId = positionals[0];
  const rows = await withReader(strFlag(v, 'db'), async (r, where) => {
    if ((await r.all(`SELECT 1 FROM runs WHERE run_id = ?`, [runId])).length === 0) throw new InputError(`no run named "${runId}" in ${where} (flask-eval runs lists them)`);
    return readFailures(r, [runId!]);
  });
  if (v.format === 'json') {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${runId}: ${rows.length} failure(s)\n` +
    textTable(['idx', 'stage', 'attempts', 'reason'], rows.map((f) => [String(f.idx), f.stage, f.attempts == null ? '-' : String(f.attempts), f.reason]), { maxWidth: v.full ? undefined : 120 }));
}
