import type { Sql } from './database.js';

/** Forget failed reviews so that `--retry-failed` judges them again (scored ones are kept). */
export async function deleteFailedReviews(sql: Sql, runId: string): Promise<number> {
  const n = await sql.one<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM reviews WHERE run_id = ? AND status = 'failed'`, [runId]);
  await sql.exec(`DELETE FROM reviews WHERE run_id = ? AND status = 'failed'`, [runId]);
  return Number(n?.n ?? 0);
}
