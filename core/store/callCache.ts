import type { Sql } from './sql.js';
import type { Reader } from './reader.js';
import { insertRows } from './jsonRows.js';
import type { EndpointRef } from '../provider/endpoint.js';
import type { CacheEntry, Step, StepOutcome } from '../pipeline.js';

/** A stored answer with where it came from. */
export interface CachedAnswer extends CacheEntry {
  runId: string;
}

/** The stored answers of `keys` (one query for a whole chunk's calls). */
export async function lookupCachedAnswers(sql: Sql, keys: readonly string[]): Promise<Map<string, CachedAnswer>> {
  const wanted = [...new Set(keys)];
  const out = new Map<string, CachedAnswer>();
  for (let i = 0; i < wanted.length; i += 1000) {
    const part = wanted.slice(i, i + 1000);
    const rows = await sql.all(
      `SELECT key, text, finish_reason, prompt_tokens, completion_tokens, served_model, simulated, run_id FROM call_cache WHERE key IN (${part.map(() => '?').join(', ')})`,
      part,
    );
    for (const r of rows) {
      out.set(String(r.key), {
        key: String(r.key), text: String(r.text), promptTokens: Number(r.prompt_tokens ?? 0), completionTokens: Number(r.completion_tokens ?? 0),
        simulated: r.simulated === true, runId: String(r.run_id ?? ''),
        ...(r.finish_reason != null ? { finishReason: String(r.finish_reason) } : {}),
        ...(r.served_model != null ? { servedModel: String(r.served_model) } : {}),
      });
    }
  }
  return out;
}

/**
 * Store the answers landing outcomes carry, in the landing's transaction. An answer already
 * stored is kept (the first call's provenance), unless `replace` (--cache refresh).
 */
export async function storeCacheEntries(
  sql: Sql, runId: string, step: Step, endpoint: EndpointRef, outcomes: readonly StepOutcome[], replace = false,
): Promise<void> {
  // Two instances asking the same thing (a duplicated instruction) store one answer.
  const byKey = new Map<string, Record<string, unknown> & { key: string }>();
  for (const o of outcomes) for (const e of o.cacheEntries ?? []) if (!byKey.has(e.key)) byKey.set(e.key, {
    key: e.key, endpoint: endpoint.baseUrl, model: endpoint.model, step, text: e.text, finish_reason: e.finishReason ?? null,
    prompt_tokens: e.promptTokens, completion_tokens: e.completionTokens, served_model: e.servedModel ?? null, simulated: e.simulated,
    run_id: runId, idx: o.idx,
  });
  const rows = [...byKey.values()];
  if (rows.length === 0) return;
  if (replace) {
    const keys = [...new Set(rows.map((r) => r.key))];
    await sql.exec(`DELETE FROM call_cache WHERE key IN (${keys.map(() => '?').join(', ')})`, keys);
  }
  await insertRows(sql, 'call_cache', {
    key: 'VARCHAR', endpoint: 'VARCHAR', model: 'VARCHAR', step: 'VARCHAR', text: 'VARCHAR', finish_reason: 'VARCHAR',
    prompt_tokens: 'INTEGER', completion_tokens: 'INTEGER', served_model: 'VARCHAR', simulated: 'BOOLEAN', run_id: 'VARCHAR', idx: 'INTEGER',
  }, rows);
}

/** What the call cache holds, per endpoint, model and step (flask-eval cache). */
export interface CacheStatsRow {
  endpoint: string;
  model: string;
  step: string;
  answers: number;
  /** Characters of stored answer text (most of the table's size). */
  textChars: number;
  /** The tokens the original calls used: what a hit saves. */
  promptTokens: number;
  completionTokens: number;
  oldest: string;
  newest: string;
}

export async function cacheStats(sql: Reader): Promise<CacheStatsRow[]> {
  const rows = await sql.all(
    `SELECT coalesce(endpoint, '') AS endpoint, coalesce(model, '') AS model, coalesce(step, '') AS step, count(*)::INT AS answers,
            coalesce(sum(length(text)), 0)::BIGINT AS chars, coalesce(sum(prompt_tokens), 0)::BIGINT AS pt, coalesce(sum(completion_tokens), 0)::BIGINT AS ct,
            strftime(min(created_at), '%Y-%m-%d %H:%M') AS oldest, strftime(max(created_at), '%Y-%m-%d %H:%M') AS newest
     FROM call_cache GROUP BY ALL ORDER BY endpoint, model, step`,
  );
  return rows.map((r) => ({
    endpoint: String(r.endpoint), model: String(r.model), step: String(r.step), answers: Number(r.answers), textChars: Number(r.chars),
    promptTokens: Number(r.pt), completionTokens: Number(r.ct), oldest: String(r.oldest ?? ''), newest: String(r.newest ?? ''),
  }));
}

/** Which stored answers `flask-eval cache prune` deletes: every given condition must hold; none given is refused by the command. */
export interface CachePruneFilter {
  /** stored more than this many days ago */
  olderThanDays?: number;
  model?: string;
  /** the endpoint's base URL as stored (credentials and query stripped) */
  endpoint?: string;
  /** answers first stored by this run */
  runId?: string;
  all?: boolean;
}

/** Delete the answers the filter selects (dryRun: only count them). Runs and their calls are untouched. */
export async function pruneCache(sql: Sql, f: CachePruneFilter, dryRun = false): Promise<{ answers: number; textChars: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  // Against the database's own clock, as created_at was stored (DEFAULT current_timestamp).
  if (f.olderThanDays !== undefined) { where.push(`created_at < current_timestamp::TIMESTAMP - to_microseconds((? * 86400e6)::BIGINT)`); params.push(f.olderThanDays); }
  if (f.model !== undefined) { where.push('model = ?'); params.push(f.model); }
  if (f.endpoint !== undefined) { where.push('endpoint = ?'); params.push(f.endpoint); }
  if (f.runId !== undefined) { where.push('run_id = ?'); params.push(f.runId); }
  if (where.length === 0 && !f.all) throw new Error('pruneCache: no condition (pass all: true to empty the cache)');
  const cond = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  const counted = await sql.one(`SELECT count(*)::INT AS n, coalesce(sum(length(text)), 0)::BIGINT AS chars FROM call_cache ${cond}`, params);
  if (!dryRun && Number(counted?.n ?? 0) > 0) await sql.exec(`DELETE FROM call_cache ${cond}`, params);
  return { answers: Number(counted?.n ?? 0), textChars: Number(counted?.chars ?? 0) };
}
