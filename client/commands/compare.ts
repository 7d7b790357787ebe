import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { readAnalysis } from '../../core/report/analyses.js';
import { openReadOnly } from '../readDb.js';
import { strFlag } from '../flags.js';
import { formatRows } from './query.js';

export const COMPARE_HELP = `flask-eval compare RUN_A RUN_B [--format table|csv|json] [--db FILE]
  Per-skill averages of two runs, their difference (B - A) and the score counts behind each.`;

export async function compareCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { db: { type: 'string' }, format: { type: 'string', default: 'table' } } });
  if (positionals.length !== 2) throw new InputError(`compare takes two run names\n\n${COMPARE_HELP}`);
  const [a, b] = positionals;
  const db = openReadOnly(strFlag(v, 'db'));
  const { rows, runs } = await db.run(async (sql) => ({
    rows: await readAnalysis(sql, [a, b], 'skill'),
    runs: await sql.all(`SELECT run_id, simulated FROM runs WHERE run_id IN (?, ?)`, [a, b]),
  }));
  for (const id of [a, b]) if (!runs.some((r) => r.run_id === id)) throw new InputError(`no run named "${id}" in ${db.file}`);
  if (runs.some((r) => r.simulated)) log('note: at least one run was scored or generated offline: SIMULATED figures');
  const skills = [...new Set(rows.map((r) => r.key))];
  const out = skills.map((skill) => {
    const ra = rows.find((r) => r.key === skill && r.run_id === a);
    const rb = rows.find((r) => r.key === skill && r.run_id === b);
    const diff = ra?.avg != null && rb?.avg != null ? rb.avg - ra.avg : null;
    return {
      skill, [`${a}_avg`]: round(ra?.avg), [`${a}_n`]: ra?.count ?? 0, [`${b}_avg`]: round(rb?.avg), [`${b}_n`]: rb?.count ?? 0, diff: round(diff),
    };
  });
  process.stdout.write(formatRows(out, v.format as string));
}

function round(x: number | null | undefined): number | null {
  return x === null || x === undefined ? null : Math.round(x * 1000) / 1000;
}
