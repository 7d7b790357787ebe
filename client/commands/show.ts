import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { instanceDetailText, readInstanceDetail } from '../../core/report/instanceDetail.js';
import { strFlag } from '../flags.js';
import { withReader } from './report.js';

export const SHOW_HELP = `flask-eval show RUN IDX [--format text|json] [--db FILE]
  One instance of a run, whole: instruction, reference answer, response, the judge's full text,
  scores, attempts, tokens, annotations and failures.`;

export async function showCommand(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { db: { type: 'string' }, format: { type: 'string', default: 'text' } } });
  if (positionals.length !== 2) throw new InputError(`show takes a run name and an instance idx\n\n${SHOW_HELP}`);
  const [runId, rawIdx] = positionals;
  const idx = Number(rawIdx);
  if (!Number.isInteger(idx)) throw new InputError(`IDX must be an integer (got "${rawIdx}")`);
  if (!['text', 'json'].includes(v.format as string)) throw new InputError(`--format must be text or json (got "${v.format}")`);
  const d = await withReader(strFlag(v, 'db'), async (r, where) => {
    const d = await readInstanceDetail(r, runId!, idx);
    if (d) return d;
    const [run] = await r.all(`SELECT (SELECT min(idx) FROM instances i WHERE i.run_id = r.run_id) AS lo, (SELECT max(idx) FROM instances i WHERE i.run_id = r.run_id) AS hi FROM runs r WHERE run_id = ?`, [runId]);
    if (!run) throw new InputError(`no run named "${runId}" in ${where} (flask-eval runs lists them)`);
    throw new InputError(`run "${runId}" has no instance ${idx} (its idx range: ${run.lo ?? '-'}..${run.hi ?? '-'})`);
  });
  process.stdout.write(v.format === 'json' ? JSON.stringify(d, null, 2) + '\n' : instanceDetailText(d));
}
