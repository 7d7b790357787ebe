import type { Sql } from './database.js';
import type { ChunkItem, Step } from '../pipeline.js';
import { parseJson } from './runs.js';

/** SQL giving 'done' | 'failed' | NULL for one step of instance i (alias i). */
function stepStatusSql(step: Step, judgeIds: readonly string[]): string {
  switch (step) {
    case 'generate':
      return `CASE WHEN EXISTS (SELECT 1 FROM responses x WHERE x.run_id = i.run_id AND x.idx = i.idx) THEN 'done'
                   WHEN EXISTS (SELECT 1 FROM generation_failures x WHERE x.run_id = i.run_id AND x.idx = i.idx) THEN 'failed' END`;
    case 'review': {
      // Reviewed when every judge of the panel landed a review; failed if one of them failed.
      const ids = judgeIds.map((j) => `'${j.replace(/'/g, "''")}'`).join(', ');
      const mine = `FROM reviews x WHERE x.run_id = i.run_id AND x.idx = i.idx AND x.judge_id IN (${ids})`;
      return `(SELECT CASE WHEN count(DISTINCT x.judge_id) < ${judgeIds.length} THEN NULL
                          WHEN bool_or(x.status <> 'scored') THEN 'failed' ELSE 'done' END ${mine})`;
    }
    default:
      return `(SELECT CASE x.status WHEN 'labelled' THEN 'done' ELSE 'failed' END FROM annotations x
               WHERE x.run_id = i.run_id AND x.idx = i.idx AND x.stage = '${step}')`;
  }
}

/**
 * Where each instance of ords [fromOrd, toOrd) stands: finished (its last step landed), failed
 * (a step landed as failed) or pending, with the first step it still needs. Resuming a run asks
 * this, so nothing landed is redone.
 */
export async function workItemsInRange(
  sql: Sql,
  runId: string,
  steps: readonly Step[],
  fromOrd: number,
  toOrd: number,
  judgeIds: readonly string[] = [''],
): Promise<{ pending: Array<[idx: number, firstStep: number]>; done: number; failed: number }> {
  const cols = steps.map((s, k) => `${stepStatusSql(s, judgeIds)} AS s${k}`).join(', ');
  const rows = await sql.all(`SELECT i.idx, ${cols} FROM instances i WHERE i.run_id = ? AND i.ord >= ? AND i.ord < ? ORDER BY i.ord`, [
    runId, fromOrd, toOrd,
  ]);
  const out = { pending: [] as Array<[number, number]>, done: 0, failed: 0 };
  for (const r of rows) {
    const statuses = steps.map((_, k) => r[`s${k}`]);
    if (statuses.includes('failed')) out.failed += 1;
    else if (statuses[statuses.length - 1] === 'done') out.done += 1;
    else out.pending.push([Number(r.idx), Math.max(0, statuses.findIndex((x) => x !== 'done'))]);
  }
  return out;
}

/**
 * What the endpoint calls of a chunk need: each instance's texts, with the results earlier steps
 * already landed (the answer to review, the domain label that picks the difficulty template).
 */
export async function loadChunkItems(sql: Sql, runId: string, idxs: readonly number[]): Promise<ChunkItem[]> {
  const list = idxs.map(Number).filter(Number.isInteger);
  if (list.length === 0) return [];
  const rows = await sql.all(
    `SELECT i.idx, i.instruction, coalesce(i.answer, '') AS answer, coalesce(i.skills, []) AS skills, x.text AS response, a.label AS domains,
            (SELECT list(v.judge_id) FROM reviews v WHERE v.run_id = i.run_id AND v.idx = i.idx) AS judged
     FROM instances i
     LEFT JOIN responses x ON x.run_id = i.run_id AND x.idx = i.idx
     LEFT JOIN annotations a ON a.run_id = i.run_id AND a.idx = i.idx AND a.stage = 'domain' AND a.status = 'labelled'
     WHERE i.run_id = ? AND i.idx IN (${list.join(',')}) ORDER BY i.ord`,
    [runId],
  );
  return rows.map((r) => ({
    idx: Number(r.idx),
    instruction: r.instruction as string,
    answer: r.answer as string,
    skills: r.skills as string[],
    ...(r.response !== null && r.response !== undefined ? { response: r.response as string } : {}),
    ...(r.domains !== null && r.domains !== undefined ? { domains: parseJson<string[]>(r.domains) ?? [] } : {}),
    ...(Array.isArray(r.judged) && r.judged.length > 0 ? { judged: r.judged as string[] } : {}),
  }));
}
