import type { Sql } from './database.js';
import { parseJson } from './runs.js';

/** FLASK's answer-file lines: question_id, text, model_id. */
export async function exportAnswers(sql: Sql, runId: string): Promise<{ question_id: number; text: string; model_id: string }[]> {
  const rows = await sql.all(`SELECT r.idx, r.text, r.model_id FROM responses r JOIN instances i USING (run_id, idx) WHERE r.run_id = ? ORDER BY i.ord`, [runId]);
  return rows.map((r) => ({ question_id: Number(r.idx), text: r.text as string, model_id: r.model_id as string }));
}

export interface EvalSetLine {
  idx: number;
  instruction: string;
  answer: string;
  task: string;
  skill: string[];
  domain: string[];
  difficulty: string;
}

/**
 * Annotated instructions in the evaluation-set format. Only instances whose three stages all
 * got a label are written; the others are counted so the caller can report them.
 */
export async function exportEvalSet(sql: Sql, runId: string): Promise<{ lines: EvalSetLine[]; incomplete: number[] }> {
  const rows = await sql.all(
    `SELECT i.idx, i.instruction, i.answer, i.task,
            max(a.label) FILTER (WHERE a.stage = 'domain' AND a.status = 'labelled') AS domain,
            max(a.label) FILTER (WHERE a.stage = 'skillset' AND a.status = 'labelled') AS skillset,
            max(a.label) FILTER (WHERE a.stage = 'difficulty' AND a.status = 'labelled') AS difficulty
     FROM instances i LEFT JOIN annotations a USING (run_id, idx)
     WHERE i.run_id = ? GROUP BY i.idx, i.instruction, i.answer, i.task, i.ord ORDER BY i.ord`,
    [runId],
  );
  const lines: EvalSetLine[] = [];
  const incomplete: number[] = [];
  for (const r of rows) {
    const domain = parseJson<string[]>(r.domain);
    const skill = parseJson<string[]>(r.skillset);
    const difficulty = parseJson<string>(r.difficulty);
    if (!domain || !skill || !difficulty) {
      incomplete.push(Number(r.idx));
      continue;
    }
    lines.push({ idx: Number(r.idx), instruction: r.instruction as string, answer: (r.answer as string | null) ?? '', task: (r.task as string | null) ?? '', skill, domain, difficulty });
  }
  return { lines, incomplete };
}
