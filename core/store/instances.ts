import type { Sql } from './database.js';
import type { EvalInstance } from '../flask/dataset.js';
import type { SkillName } from '../flask/skills.js';
import { parseJson } from './runs.js';

/** An instance as the pipeline steps need it (skills may be empty before annotation). */
export interface StoredInstance {
  idx: number;
  instruction: string;
  answer: string;
  task: string;
  skills: SkillName[];
  domains: string[];
  difficulty: string | null;
  extra: Record<string, unknown>;
}

/**
 * Rows go in as JSON parameters, a chunk per statement: one statement per row is slow, and one
 * huge JSON value makes DuckDB's from_json slow down more than linearly.
 */
const CHUNK = 2000;

async function insertJsonRows(sql: Sql, statement: string, runId: string, rows: readonly unknown[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) await sql.exec(statement, [runId, JSON.stringify(rows.slice(i, i + CHUNK))]);
}

/** Idempotent bulk insert (ON CONFLICT DO NOTHING); returns how many rows were new. */
export async function landInstances(sql: Sql, runId: string, instances: readonly EvalInstance[], firstOrd = 0): Promise<number> {
  const rows = instances.map((i, k) => ({
    idx: i.idx, ord: firstOrd + k, instruction: i.instruction, answer: i.answer, task: i.task,
    skills: i.skills, domains: i.domains, difficulty: i.difficulty, extra: JSON.stringify(i.extra),
  }));
  const before = await count(sql, 'instances', runId);
  await insertJsonRows(
    sql,
    `INSERT INTO instances
     SELECT ?, r.idx, r.ord, r.instruction, r.answer, r.task, r.skills, r.domains, r.difficulty, r.extra::JSON
     FROM (SELECT unnest(from_json(?::JSON, '[{"idx":"INTEGER","ord":"INTEGER","instruction":"VARCHAR","answer":"VARCHAR","task":"VARCHAR","skills":["VARCHAR"],"domains":["VARCHAR"],"difficulty":"VARCHAR","extra":"VARCHAR"}]'), recursive := true)) r
     ON CONFLICT DO NOTHING`,
    runId,
    rows,
  );
  return (await count(sql, 'instances', runId)) - before;
}

export interface ResponseRow {
  idx: number;
  modelId: string;
  text: string;
  source: 'imported' | 'generated';
  finishReason?: string | null;
  promptTokens?: number | null;
  completionTokens?: number | null;
}

export async function landResponses(sql: Sql, runId: string, rows: readonly ResponseRow[]): Promise<number> {
  const before = await count(sql, 'responses', runId);
  await insertJsonRows(
    sql,
    `INSERT INTO responses (run_id, idx, model_id, text, source, finish_reason, prompt_tokens, completion_tokens)
     SELECT ?, r.idx, r.modelId, r.text, r.source, r.finishReason, r.promptTokens, r.completionTokens
     FROM (SELECT unnest(from_json(?::JSON, '[{"idx":"INTEGER","modelId":"VARCHAR","text":"VARCHAR","source":"VARCHAR","finishReason":"VARCHAR","promptTokens":"INTEGER","completionTokens":"INTEGER"}]'), recursive := true)) r
     ON CONFLICT DO NOTHING`,
    runId,
    rows,
  );
  return (await count(sql, 'responses', runId)) - before;
}

export async function getInstance(sql: Sql, runId: string, idx: number): Promise<StoredInstance | undefined> {
  const r = await sql.one(`SELECT * FROM instances WHERE run_id = ? AND idx = ?`, [runId, idx]);
  return r ? toInstance(r) : undefined;
}

export async function getResponse(sql: Sql, runId: string, idx: number): Promise<{ text: string; modelId: string } | undefined> {
  const r = await sql.one(`SELECT text, model_id FROM responses WHERE run_id = ? AND idx = ?`, [runId, idx]);
  return r ? { text: r.text as string, modelId: r.model_id as string } : undefined;
}

export async function countInstances(sql: Sql, runId: string): Promise<number> {
  return count(sql, 'instances', runId);
}

function toInstance(r: Record<string, unknown>): StoredInstance {
  return {
    idx: Number(r.idx),
    instruction: r.instruction as string,
    answer: (r.answer as string | null) ?? '',
    task: (r.task as string | null) ?? '',
    skills: ((r.skills as string[] | null) ?? []) as SkillName[],
    domains: (r.domains as string[] | null) ?? [],
    difficulty: (r.difficulty as string | null) ?? null,
    extra: parseJson<Record<string, unknown>>(r.extra) ?? {},
  };
}

async function count(sql: Sql, table: 'instances' | 'responses', runId: string): Promise<number> {
  const r = await sql.one<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ${table} WHERE run_id = ?`, [runId]);
  return Number(r?.n ?? 0);
}
