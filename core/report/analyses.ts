import type { Sql } from '../store/database.js';

export type ReportBy = 'skill' | 'difficulty' | 'domain';

export interface AnalysisRow {
  run_id: string;
  /** skill key, or domain name */
  key: string;
  /** difficulty level (1-5) for --by difficulty */
  level?: number;
  difficulty?: string;
  score_sum: number;
  count: number;
  avg: number | null;
  cumulative_avg?: number | null;
  na_count?: number;
}

/** FLASK's three analyses, read from the views (see core/store/schema.ts). */
export async function readAnalysis(sql: Sql, runIds: readonly string[], by: ReportBy): Promise<AnalysisRow[]> {
  const list = runIds.map(() => '?').join(', ');
  const q = {
    skill: `SELECT run_id, skill AS key, score_sum, count, avg, na_count FROM skill_summary WHERE run_id IN (${list}) ORDER BY skill_order, run_id`,
    difficulty: `SELECT run_id, skill AS key, difficulty_level AS level, difficulty, score_sum, count, avg, cumulative_avg
                 FROM skill_difficulty_summary WHERE run_id IN (${list}) ORDER BY skill_order, difficulty_level, run_id`,
    domain: `SELECT run_id, domain AS key, score_sum, count, avg, na_count FROM domain_summary WHERE run_id IN (${list}) ORDER BY domain, run_id`,
  }[by];
  return (await sql.all(q, [...runIds])).map((r) => ({
    ...(r as unknown as AnalysisRow),
    score_sum: Number(r.score_sum ?? 0),
    count: Number(r.count ?? 0),
    avg: r.avg === null ? null : Number(r.avg),
    ...(r.level !== undefined ? { level: Number(r.level) } : {}),
    ...(r.cumulative_avg !== undefined ? { cumulative_avg: r.cumulative_avg === null ? null : Number(r.cumulative_avg) } : {}),
    ...(r.na_count !== undefined ? { na_count: Number(r.na_count) } : {}),
  }));
}
