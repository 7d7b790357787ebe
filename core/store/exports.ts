import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Sql } from './database.js';
import { parseJson } from './runs.js';
import type { Reader } from './reader.js';


/**
 * FLASK's answer-file lines: question_id, text, model_id. An imported answer keeps the model_id
 * its own line carried (FLASK's chatgpt.jsonl mixes "gpt-3.5-turbo:20230327" with lines that
 * have none): the answers file recorded on the run is read again when its sha256 still matches.
 * Lines that carried none, and generated answers, get the run's model id.
 */
export async function exportAnswers(sql: Sql | Reader, runId: string): Promise<{ question_id: number; text: string; model_id: string }[]> {
  return (await exportAnswersWithStatus(sql, runId)).answers;
}

/** exportAnswers, and whether the imported answers' own model ids could be read again. */
export async function exportAnswersWithStatus(sql: Sql | Reader, runId: string): Promise<{ answers: { question_id: number; text: string; model_id: string }[]; originalIds: 'kept' | 'file-changed' | 'file-missing' | 'none' }> {
  const rows = await sql.all(`SELECT r.idx, r.text, r.model_id, r.source FROM responses r JOIN instances i USING (run_id, idx) WHERE r.run_id = ? ORDER BY i.ord`, [runId]);
  const [run] = await sql.all(`SELECT answers_path, answers_sha256 FROM runs WHERE run_id = ?`, [runId]);
  const { ids, status } = originalModelIds(run?.answers_path as string | null, run?.answers_sha256 as string | null);
  return {
    answers: rows.map((r) => ({
      question_id: Number(r.idx), text: r.text as string,
      model_id: (r.source === 'imported' ? ids.get(Number(r.idx)) : undefined) ?? (r.model_id as string),
    })),
    originalIds: rows.some((r) => r.source === 'imported') ? status : 'none',
  };
}

function originalModelIds(file: string | null, sha: string | null): { ids: Map<number, string>; status: 'kept' | 'file-changed' | 'file-missing' } {
  const ids = new Map<number, string>();
  if (!file || !existsSync(file)) return { ids, status: 'file-missing' };
  const bytes = readFileSync(file);
  if (sha && createHash('sha256').update(bytes).digest('hex') !== sha) return { ids, status: 'file-changed' };
  for (const line of bytes.toString('utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const o = JSON.parse(line) as { question_id?: unknown; model_id?: unknown };
      const q = Number(o.question_id);
      // The first line of a duplicated id is the one the run imported.
      if (Number.isInteger(q) && typeof o.model_id === 'string' && !ids.has(q)) ids.set(q, o.model_id);
    } catch {
      // The run was created from this file, so it parsed then; a bad line here cannot be one it used.
    }
  }
  return { ids, status: 'kept' };
}

/**
 * FLASK's review-file line (what gpt_review/gpt4_eval.py writes): the evaluation-set line, plus
 * `review` (the judge's text) and `score` ({lower-case skill name: 1..5 | "N/A"}, as its
 * parse_score returns), `target_txt` (the response) and the keys FLASK's aggregate scripts read
 * (`question_id`, `domain_labeled`, `difficulty_labeled`). Unlabelled values keep FLASK's
 * markers: domain ["-1"], difficulty -1.
 */
export interface FlaskReviewLine {
  idx: number;
  instruction: string;
  answer: string;
  task: string;
  skill: string[];
  domain: string[];
  difficulty: string | number;
  [extra: string]: unknown;
  question_id: number;
  domain_labeled: string[];
  difficulty_labeled: string | number;
  target_txt: string;
  review: string;
  score: Record<string, number | 'N/A'>;
}

/** Scored reviews only (FLASK writes failed calls to a separate error file), by question_id. */
export async function exportFlaskReview(sql: Sql | Reader, runId: string): Promise<{ lines: FlaskReviewLine[]; failed: number; notReviewed: number }> {
  const rows = await sql.all(
    `SELECT i.idx, i.instruction, i.answer, i.task, i.skills, i.domains, i.difficulty, i.extra, x.text AS response, v.raw_text, v.status,
            (SELECT list({'skill': s.skill, 'score': s.score} ORDER BY coalesce(list_position(i.skills, s.skill), 99), s.skill)
               FROM review_scores s WHERE s.run_id = i.run_id AND s.idx = i.idx) AS scores
     FROM instances i LEFT JOIN reviews v USING (run_id, idx) LEFT JOIN responses x USING (run_id, idx)
     WHERE i.run_id = ? ORDER BY i.idx`,
    [runId],
  );
  const lines: FlaskReviewLine[] = [];
  let failed = 0;
  let notReviewed = 0;
  for (const r of rows) {
    if (r.status !== 'scored') {
      if (r.status === 'failed') failed++;
      else notReviewed++;
      continue;
    }
    const domains = ((r.domains as string[] | null) ?? []).map(String);
    const domain = domains.length ? domains : ['-1'];
    const difficulty = r.difficulty == null ? -1 : String(r.difficulty);
    const score: Record<string, number | 'N/A'> = {};
    for (const s of (r.scores as { skill: string; score: number | null }[] | null) ?? []) {
      score[String(s.skill).toLowerCase()] = s.score === null ? 'N/A' : Number(s.score);
    }
    lines.push({
      idx: Number(r.idx), instruction: String(r.instruction), answer: String(r.answer ?? ''), task: String(r.task ?? ''),
      skill: ((r.skills as string[] | null) ?? []).map(String), domain, difficulty,
      ...(parseJson<Record<string, unknown>>(r.extra) ?? {}),
      question_id: Number(r.idx), domain_labeled: domain, difficulty_labeled: difficulty,
      target_txt: String(r.response ?? ''), review: String(r.raw_text ?? ''), score,
    });
  }
  return { lines, failed, notReviewed };
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
export async function exportEvalSet(sql: Sql | Reader, runId: string): Promise<{ lines: EvalSetLine[]; incomplete: number[] }> {
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
