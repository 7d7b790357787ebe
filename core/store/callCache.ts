import type { Sql } from './sql.js';
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
