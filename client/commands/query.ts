import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { openReadOnly } from '../readDb.js';
import { strFlag } from '../flags.js';

export const QUERY_HELP = `flask-eval query "SQL" [--format table|csv|json] [--db FILE]
  Read-only SQL over the results (tables: runs, instances, responses, reviews, review_scores,
  annotations; views: scores, skill_summary, skill_difficulty_summary, domain_summary, ...).`;

export async function queryCommand(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true, options: { db: { type: 'string' }, format: { type: 'string', default: 'table' } },
  });
  if (positionals.length !== 1) throw new InputError(`query takes one SQL string\n\n${QUERY_HELP}`);
  const db = openReadOnly(strFlag(v, 'db'));
  let rows: Record<string, unknown>[];
  try {
    // The file is opened READ_ONLY: DuckDB itself refuses any write.
    rows = await db.run((sql) => sql.all(positionals[0]));
  } catch (e) {
    throw new InputError(`query failed: ${(e as Error).message}`);
  }
  process.stdout.write(formatRows(rows, v.format as string));
}

export function formatRows(rows: Record<string, unknown>[], format: string): string {
  if (format === 'json') return JSON.stringify(rows, null, 2) + '\n';
  const cols = rows.length ? Object.keys(rows[0]) : [];
  const text = (x: unknown) => (x === null || x === undefined ? '' : typeof x === 'object' ? JSON.stringify(x) : String(x));
  if (format === 'csv') {
    const cell = (x: unknown) => { const s = text(x); return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s; };
    return [cols.join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
  }
  const cells = rows.map((r) => cols.map((c) => text(r[c]).replace(/\s+/g, ' ').slice(0, 60)));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (xs: string[]) => xs.map((x, i) => x.padEnd(widths[i])).join('  ').trimEnd();
  return [line(cols), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line), `(${rows.length} rows)`].join('\n') + '\n';
}
