import { parseArgs } from 'node:util';
import type { Database } from '../../core/store/database.js';
import { InputError } from '../../core/errors.js';
import { readAnalysis, type ReportBy } from '../../core/report/analyses.js';
import { formatReport, type ReportFormat } from '../../core/report/format.js';
import { openReadOnly } from '../readDb.js';
import { strFlag } from '../flags.js';

export const REPORT_HELP = `flask-eval report RUN [RUN...] [--by skill|difficulty|domain] [--format table|csv|json] [--db FILE]
  FLASK's analyses of one or more runs (side by side): per skill, per skill x difficulty level,
  per domain (every domain of an instance receives all of its scores). N/A scores are excluded.`;

interface RunHeader {
  run_id: string;
  simulated: boolean;
  judge_model: string;
  model_id: string | null;
  scored: number;
  failed: number;
  instances: number;
}

export async function printRunReport(db: Database, runIds: string[], by: ReportBy, format: ReportFormat, out: (s: string) => void): Promise<void> {
  const { headers, rows } = await db.run(async (sql) => {
    const headers = await sql.all<RunHeader & Record<string, unknown>>(
      `SELECT r.run_id, r.simulated, r.judge_model, r.model_id,
              (SELECT count(*) FROM reviews v WHERE v.run_id = r.run_id AND v.status = 'scored')::INTEGER AS scored,
              (SELECT count(*) FROM reviews v WHERE v.run_id = r.run_id AND v.status = 'failed')::INTEGER AS failed,
              (SELECT count(*) FROM instances i WHERE i.run_id = r.run_id)::INTEGER AS instances
       FROM runs r WHERE r.run_id IN (${runIds.map(() => '?').join(', ')})`,
      runIds,
    );
    return { headers, rows: await readAnalysis(sql, runIds, by) };
  });
  const missing = runIds.filter((id) => !headers.some((h) => h.run_id === id));
  if (missing.length) throw new InputError(`no run named ${missing.map((m) => `"${m}"`).join(', ')} in ${db.file}`);
  if (format === 'table') {
    for (const h of headers) {
      out(`${h.run_id}: model ${h.model_id ?? '-'}, judge ${h.judge_model}; ${h.scored} scored, ${h.failed} failed of ${h.instances} instances` +
        (h.simulated ? '  [SIMULATED: offline judge, not a real model]' : ''));
    }
  } else if (headers.some((h) => h.simulated)) {
    // Keep machine-readable output parseable: the warning goes to stderr.
    process.stderr.write(`note: ${headers.filter((h) => h.simulated).map((h) => h.run_id).join(', ')} scored by the offline judge: SIMULATED scores\n`);
  }
  process.stdout.write(formatReport(rows, by, runIds, format));
}

export async function reportCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { by: { type: 'string', default: 'skill' }, format: { type: 'string', default: 'table' }, db: { type: 'string' } },
  });
  if (positionals.length === 0) throw new InputError(`report needs at least one run name\n\n${REPORT_HELP}`);
  const by = v.by as string;
  const format = v.format as string;
  if (!['skill', 'difficulty', 'domain'].includes(by)) throw new InputError(`--by must be skill, difficulty or domain (got "${by}")`);
  if (!['table', 'csv', 'json'].includes(format)) throw new InputError(`--format must be table, csv or json (got "${format}")`);
  await printRunReport(openReadOnly(strFlag(v, 'db')), positionals, by as ReportBy, format as ReportFormat, log);
}
