import { num, placeholders, type Reader } from '../store/reader.js';

export interface FailedInstance {
  runId: string;
  idx: number;
  /** generate | review | domain | skillset | difficulty */
  stage: string;
  reason: string;
  attempts: number | null;
  rawText: string | null;
  /** review failures: the panel judge whose review failed */
  judgeId: string | null;
}

/** Every recorded failure of the runs: answers not generated, reviews and annotation stages failed. */
export async function readFailures(r: Reader, runIds: readonly string[]): Promise<FailedInstance[]> {
  if (runIds.length === 0) return [];
  const list = placeholders(runIds.length);
  const rows = await r.all(
    `SELECT * FROM (
       SELECT g.run_id, g.idx, 'generate' AS stage, g.reason, NULL::INTEGER AS attempts, NULL::VARCHAR AS raw_text, 0 AS stage_order, NULL::VARCHAR AS judge_id
         FROM generation_failures g WHERE g.run_id IN (${list})
       UNION ALL
       SELECT v.run_id, v.idx, 'review', coalesce(v.error, '(no reason recorded)'), v.attempts, v.raw_text, 1, v.judge_id
         FROM reviews v WHERE v.status = 'failed' AND v.run_id IN (${list})
       UNION ALL
       SELECT a.run_id, a.idx, a.stage, coalesce(a.error, '(no reason recorded)'), a.attempts, a.raw_text,
              CASE a.stage WHEN 'domain' THEN 2 WHEN 'skillset' THEN 3 ELSE 4 END, NULL
         FROM annotations a WHERE a.status = 'failed' AND a.run_id IN (${list})
     ) f LEFT JOIN instances i USING (run_id, idx)
     ORDER BY f.run_id, i.ord NULLS LAST, f.idx, f.stage_order`,
    [...runIds, ...runIds, ...runIds],
  );
  return rows.map((x) => ({
    runId: String(x.run_id), idx: Number(x.idx), stage: String(x.stage), reason: String(x.reason),
    attempts: num(x.attempts), rawText: x.raw_text == null ? null : String(x.raw_text), judgeId: x.judge_id == null ? null : String(x.judge_id),
  }));
}
