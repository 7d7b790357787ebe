import type { Sql } from './database.js';
import { insertRows } from './jsonRows.js';
import { skillKey, type SkillName } from '../flask/skills.js';
import type { EndpointRef } from '../provider/endpoint.js';
import type { Step, StepOutcome } from '../pipeline.js';
import { runCost, type RunPrices } from '../cost/runCost.js';
import { storeCacheEntries } from './callCache.js';

/**
 * Land one step's outcomes for a chunk of instances, in the caller's transaction. Idempotent:
 * an instance whose result for this step already landed (a retried activity, a resumed run) is
 * skipped whole — its result, its scores and its call records — so nothing is doubled or mixed.
 */
export async function landResults(
  sql: Sql,
  runId: string,
  step: Step,
  endpoint: EndpointRef,
  outcomes: readonly StepOutcome[],
  opts: { judgeProfile?: string; judgeId?: string; prices?: RunPrices; batchFallback?: string; refreshCache?: boolean } = {},
): Promise<{ landed: number; duplicates: number; runCostUsd?: number }> {
  // With prices (a run with --max-cost), the run's landed cost comes back with each landing:
  // the workflow stops starting chunks once it reaches the budget.
  const cost = async () => (opts.prices ? { runCostUsd: (await runCost(sql, runId, opts.prices)).pricedUsd } : {});
  if (outcomes.length === 0) return { landed: 0, duplicates: 0, ...(await cost()) };
  const judgeId = opts.judgeId ?? '';
  const landed = await alreadyLanded(sql, runId, step, outcomes.map((o) => o.idx), judgeId);
  const fresh = outcomes.filter((o) => !landed.has(o.idx));
  const provenance = (o: StepOutcome) => ({ endpoint: endpoint.baseUrl, served_model: o.servedModel ?? null, simulated: o.simulated });
  const times = (o: StepOutcome) => ({ started_at: o.startedAt, finished_at: o.finishedAt });
  const tokens = (o: StepOutcome) => ({ prompt_tokens: o.promptTokens, completion_tokens: o.completionTokens });

  if (step === 'generate') {
    await insertRows(sql, 'responses', {
      run_id: 'VARCHAR', idx: 'INTEGER', model_id: 'VARCHAR', text: 'VARCHAR', source: 'VARCHAR', finish_reason: 'VARCHAR',
      prompt_tokens: 'INTEGER', completion_tokens: 'INTEGER', endpoint: 'VARCHAR', served_model: 'VARCHAR', simulated: 'BOOLEAN',
    }, fresh.filter((o) => o.status === 'done').map((o) => ({
      run_id: runId, idx: o.idx, model_id: endpoint.model, text: o.text ?? '', source: 'generated', finish_reason: o.finishReason ?? null,
      ...tokens(o), ...provenance(o),
    })));
    await insertRows(sql, 'generation_failures', { run_id: 'VARCHAR', idx: 'INTEGER', reason: 'VARCHAR' },
      fresh.filter((o) => o.status === 'failed').map((o) => ({ run_id: runId, idx: o.idx, reason: o.error ?? 'failed' })));
  } else if (step === 'review') {
    await insertRows(sql, 'reviews', {
      run_id: 'VARCHAR', idx: 'INTEGER', status: 'VARCHAR', judge_model: 'VARCHAR', raw_text: 'VARCHAR', error: 'VARCHAR',
      prompt_tokens: 'INTEGER', completion_tokens: 'INTEGER', attempts: 'INTEGER', started_at: 'TIMESTAMP', finished_at: 'TIMESTAMP',
      endpoint: 'VARCHAR', served_model: 'VARCHAR', simulated: 'BOOLEAN', judge_profile: 'VARCHAR', judge_id: 'VARCHAR', review_template: 'VARCHAR', samples: 'INTEGER',
    }, fresh.map((o) => ({
      review_template: o.template ?? null, samples: o.samples?.length ?? null,
      run_id: runId, idx: o.idx, judge_id: judgeId, status: o.status === 'done' ? 'scored' : 'failed', judge_model: endpoint.model, judge_profile: opts.judgeProfile ?? 'flask', raw_text: o.text ?? null,
      error: o.error ?? null, attempts: o.attempts, ...tokens(o), ...times(o), ...provenance(o),
    })));
    await insertRows(sql, 'review_scores', { run_id: 'VARCHAR', idx: 'INTEGER', skill: 'VARCHAR', skill_key: 'VARCHAR', score: 'DOUBLE', judge_id: 'VARCHAR' },
      fresh.filter((o) => o.status === 'done').flatMap((o) =>
        Object.entries(o.value as Record<string, number | 'N/A'>).map(([skill, score]) => ({
          run_id: runId, idx: o.idx, judge_id: judgeId, skill, skill_key: skillKey(skill as SkillName), score: score === 'N/A' ? null : score,
        }))));
    await insertRows(sql, 'review_sample_scores', { run_id: 'VARCHAR', idx: 'INTEGER', judge_id: 'VARCHAR', sample: 'INTEGER', skill: 'VARCHAR', skill_key: 'VARCHAR', score: 'DOUBLE' },
      fresh.filter((o) => o.status === 'done' && o.samples).flatMap((o) => o.samples!.flatMap((scores, k) =>
        Object.entries(scores).map(([skill, score]) => ({
          run_id: runId, idx: o.idx, judge_id: judgeId, sample: k + 1, skill, skill_key: skillKey(skill as SkillName), score: score === 'N/A' ? null : score,
        })))));
  } else {
    await insertRows(sql, 'annotations', {
      run_id: 'VARCHAR', idx: 'INTEGER', stage: 'VARCHAR', status: 'VARCHAR', label: 'JSON', raw_text: 'VARCHAR', error: 'VARCHAR',
      numbering: 'JSON', prompt_tokens: 'INTEGER', completion_tokens: 'INTEGER', attempts: 'INTEGER', started_at: 'TIMESTAMP',
      finished_at: 'TIMESTAMP', model: 'VARCHAR', endpoint: 'VARCHAR', served_model: 'VARCHAR', simulated: 'BOOLEAN',
    }, fresh.map((o) => ({
      run_id: runId, idx: o.idx, stage: step, status: o.status === 'done' ? 'labelled' : 'failed',
      label: o.status === 'done' && o.value !== undefined ? JSON.stringify(o.value) : null, raw_text: o.text ?? null, error: o.error ?? null,
      numbering: o.numbering ? JSON.stringify(o.numbering) : null, attempts: o.attempts, model: endpoint.model,
      ...tokens(o), ...times(o), ...provenance(o),
    })));
  }
  await insertRows(sql, 'calls', {
    run_id: 'VARCHAR', idx: 'INTEGER', step: 'VARCHAR', call_no: 'INTEGER', outcome: 'VARCHAR', http_status: 'INTEGER',
    prompt_tokens: 'INTEGER', completion_tokens: 'INTEGER', latency_ms: 'INTEGER', resent: 'BOOLEAN', endpoint: 'VARCHAR', model: 'VARCHAR',
    started_at: 'TIMESTAMP', judge_id: 'VARCHAR', via_batch: 'BOOLEAN', batch_fallback: 'VARCHAR', cache_key: 'VARCHAR', cached_from: 'VARCHAR',
  }, fresh.flatMap((o) => o.calls.map((c) => ({
    via_batch: c.batch ?? false, batch_fallback: c.batchFallback ?? null, cache_key: c.cacheKey ?? null, cached_from: c.cachedFrom ?? null,
    judge_id: step === 'review' ? judgeId : null,
    run_id: runId, idx: o.idx, step, call_no: c.callNo, outcome: c.outcome, http_status: c.httpStatus ?? null, prompt_tokens: c.promptTokens,
    completion_tokens: c.completionTokens, latency_ms: c.latencyMs, resent: c.resent, endpoint: endpoint.baseUrl, model: endpoint.model,
    started_at: c.startedAt,
  }))), { onConflict: 'none' });
  // The first reason stays: a run asked for --batch learns once that its endpoint has none.
  if (opts.batchFallback) await sql.exec('UPDATE runs SET batch_fallback = ? WHERE run_id = ? AND batch_fallback IS NULL', [opts.batchFallback, runId]);
  await storeCacheEntries(sql, runId, step, endpoint, fresh, opts.refreshCache);
  return { landed: fresh.length, duplicates: outcomes.length - fresh.length, ...(await cost()) };
}

async function alreadyLanded(sql: Sql, runId: string, step: Step, idxs: number[], judgeId: string): Promise<Set<number>> {
  const list = idxs.map((i) => Number(i)).filter(Number.isInteger).join(',');
  const q =
    step === 'generate'
      ? `SELECT idx FROM responses WHERE run_id = ? AND idx IN (${list}) UNION SELECT idx FROM generation_failures WHERE run_id = ? AND idx IN (${list})`
      : step === 'review'
        ? `SELECT idx FROM reviews WHERE run_id = ? AND judge_id = ? AND idx IN (${list})`
        : `SELECT idx FROM annotations WHERE run_id = ? AND stage = '${step}' AND idx IN (${list})`;
  const rows = await sql.all(q, step === 'generate' ? [runId, runId] : step === 'review' ? [runId, judgeId] : [runId]);
  return new Set(rows.map((r) => Number(r.idx)));
}
