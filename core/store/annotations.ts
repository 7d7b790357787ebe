import type { Sql } from './database.js';
import { parseJson } from './runs.js';

export type AnnotationStage = 'domain' | 'skillset' | 'difficulty';

export interface AnnotationRow {
  idx: number;
  stage: AnnotationStage;
  status: 'labelled' | 'failed';
  /** domains: string[]; skillset: SkillName[]; difficulty: string */
  label: unknown;
  rawText: string | null;
  error: string | null;
  numbering: string[] | null;
  promptTokens: number;
  completionTokens: number;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
}

/** Idempotent: a stage's row, once landed, is never replaced by a retried activity. */
export async function landAnnotation(sql: Sql, runId: string, a: AnnotationRow): Promise<void> {
  await sql.exec(
    `INSERT INTO annotations (run_id, idx, stage, status, label, raw_text, error, numbering, prompt_tokens, completion_tokens, attempts, started_at, finished_at)
     VALUES (?, ?, ?, ?, ?::JSON, ?, ?, ?::JSON, ?, ?, ?, ?::TIMESTAMP, ?::TIMESTAMP) ON CONFLICT DO NOTHING`,
    [
      runId, a.idx, a.stage, a.status, a.label === undefined || a.label === null ? null : JSON.stringify(a.label), a.rawText, a.error,
      a.numbering ? JSON.stringify(a.numbering) : null, a.promptTokens, a.completionTokens, a.attempts, a.startedAt, a.finishedAt,
    ],
  );
}

export interface StoredAnnotation {
  status: 'labelled' | 'failed';
  label: unknown;
  numbering: string[] | null;
  error: string | null;
}

export async function getAnnotations(sql: Sql, runId: string, idx: number): Promise<Partial<Record<AnnotationStage, StoredAnnotation>>> {
  const rows = await sql.all(`SELECT stage, status, label, numbering, error FROM annotations WHERE run_id = ? AND idx = ?`, [runId, idx]);
  const out: Partial<Record<AnnotationStage, StoredAnnotation>> = {};
  for (const r of rows) {
    out[r.stage as AnnotationStage] = {
      status: r.status as 'labelled' | 'failed',
      label: parseJson(r.label),
      numbering: parseJson<string[]>(r.numbering),
      error: (r.error as string | null) ?? null,
    };
  }
  return out;
}
