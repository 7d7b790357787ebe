import type { Sql } from './database.js';
import { skillKey, type SkillName } from '../flask/skills.js';
import type { SkillScore } from '../scoring/parseSkillScores.js';

export interface ReviewRow {
  idx: number;
  status: 'scored' | 'failed';
  judgeModel: string;
  rawText: string | null;
  error: string | null;
  scores: Partial<Record<SkillName, SkillScore>>;
  promptTokens: number;
  completionTokens: number;
  attempts: number;
  startedAt: string;
  finishedAt: string;
}

/**
 * Land one review and its per-skill scores in one transaction (the caller's). The review row
 * is written first with ON CONFLICT DO NOTHING; if it was already there (a retried activity),
 * nothing else is written, so scores can never be doubled or mixed from two attempts.
 */
export async function landReview(sql: Sql, runId: string, r: ReviewRow): Promise<boolean> {
  const exists = await sql.one(`SELECT 1 AS x FROM reviews WHERE run_id = ? AND idx = ?`, [runId, r.idx]);
  if (exists) return false;
  await sql.exec(
    `INSERT INTO reviews (run_id, idx, status, judge_model, raw_text, error, prompt_tokens, completion_tokens, attempts, started_at, finished_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::TIMESTAMP, ?::TIMESTAMP)`,
    [runId, r.idx, r.status, r.judgeModel, r.rawText, r.error, r.promptTokens, r.completionTokens, r.attempts, r.startedAt, r.finishedAt],
  );
  if (r.status === 'scored') {
    for (const [skill, score] of Object.entries(r.scores) as [SkillName, SkillScore][]) {
      await sql.exec(`INSERT INTO review_scores (run_id, idx, skill, skill_key, score) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, [
        runId, r.idx, skill, skillKey(skill), score === 'N/A' ? null : score,
      ]);
    }
  }
  return true;
}

/** Forget failed reviews so that `--retry-failed` judges them again (scored ones are kept). */
export async function deleteFailedReviews(sql: Sql, runId: string): Promise<number> {
  const n = await sql.one<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM reviews WHERE run_id = ? AND status = 'failed'`, [runId]);
  await sql.exec(`DELETE FROM reviews WHERE run_id = ? AND status = 'failed'`, [runId]);
  return Number(n?.n ?? 0);
}
