import type { Sql } from './database.js';
import type { Step } from '../../workflows/types.js';

/** SQL giving 'done' | 'failed' | NULL for one step of instance i (alias i). */
function stepStatusSql(step: Step): string {
  switch (step) {
    case 'generate':
      return `CASE WHEN EXISTS (SELECT 1 FROM responses x WHERE x.run_id = i.run_id AND x.idx = i.idx) THEN 'done'
                   WHEN EXISTS (SELECT 1 FROM generation_failures x WHERE x.run_id = i.run_id AND x.idx = i.idx) THEN 'failed' END`;
    case 'review':
      return `(SELECT CASE x.status WHEN 'scored' THEN 'done' ELSE 'failed' END FROM reviews x WHERE x.run_id = i.run_id AND x.idx = i.idx)`;
    default:
      return `(SELECT CASE x.status WHEN 'labelled' THEN 'done' ELSE 'failed' END FROM annotations x
               WHERE x.run_id = i.run_id AND x.idx = i.idx AND x.stage = '${step}')`;
  }
}

/**
 * Where each instance of ords [fromOrd, toOrd) stands: finished (its last step landed), failed
 * (a step landed as failed) or pending. Resuming a run asks this, so nothing landed is redone.
 */
export async function workItemsInRange(
  sql: Sql,
  runId: string,
  steps: readonly Step[],
  fromOrd: number,
  toOrd: number,
): Promise<{ pending: number[]; done: number; failed: number }> {
  const cols = steps.map((s, k) => `${stepStatusSql(s)} AS s${k}`).join(', ');
  const rows = await sql.all(`SELECT i.idx, ${cols} FROM instances i WHERE i.run_id = ? AND i.ord >= ? AND i.ord < ? ORDER BY i.ord`, [
    runId, fromOrd, toOrd,
  ]);
  const out = { pending: [] as number[], done: 0, failed: 0 };
  for (const r of rows) {
    const statuses = steps.map((_, k) => r[`s${k}`]);
    if (statuses.includes('failed')) out.failed += 1;
    else if (statuses[statuses.length - 1] === 'done') out.done += 1;
    else out.pending.push(Number(r.idx));
  }
  return out;
}
