import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { readRunsOverview } from '../../core/report/runsOverview.js';
import { textTable } from '../../core/report/textTable.js';
import { strFlag } from '../flags.js';
import { withReader } from './report.js';

export const RUNS_HELP = `flask-eval runs [--format table|json] [--full] [--db FILE]
  Every run: kind, model, judge (a panel: its number of judges and their models), created, status (from the stored rows: complete, failed when
  every instance failed, incomplete, empty), instances that succeeded / total, failed, tokens, re-sent calls (calls sent again after a crash or lost; "-" when the store
  keeps no call log); a panel's instance is done when every judge has reviewed it, failed when any
  judge's review failed; and whether the offline endpoint produced it (SIMULATED).`;

export async function runsCommand(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { db: { type: 'string' }, format: { type: 'string', default: 'table' }, full: { type: 'boolean' } } });
  if (positionals.length) throw new InputError(`runs takes no arguments\n\n${RUNS_HELP}`);
  if (!['table', 'json'].includes(v.format as string)) throw new InputError(`--format must be table or json (got "${v.format}")`);
  const rows = await withReader(strFlag(v, 'db'), (r) => readRunsOverview(r));
  if (v.format === 'json') {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return;
  }
  const tok = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n));
  process.stdout.write(textTable(
    ['run', 'kind', 'model', 'judge', 'created', 'status', 'ok/instances', 'failed', 'tokens in+out', 're-sent', 'simulated'],
    rows.map((r) => [r.runId, r.kind, r.modelId ?? '-', r.judges > 1 ? `${r.judges} judges: ${r.judgeModels}` : r.judgeModel ?? '-', r.createdAt ?? '-', r.status, `${r.finished - r.failed}/${r.instances}`, String(r.failed),
      `${tok(r.promptTokens)}+${tok(r.completionTokens)}`, r.resentCalls == null ? '-' : String(r.resentCalls), r.simulated ? 'SIMULATED' : 'no']),
    { maxWidth: v.full ? undefined : 40 },
  ));
  // Money a user expected to halve: said under the table, whole (a table cell would cut it).
  for (const r of rows) if (r.batchFallback) process.stdout.write(`${r.runId}: --batch went direct, at the full price: ${r.batchFallback}\n`);
}
