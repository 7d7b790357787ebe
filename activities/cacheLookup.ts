import type { Sql } from '../core/store/sql.js';
import { lookupCachedAnswers, type CachedAnswer } from '../core/store/callCache.js';
import { cacheUse } from '../core/cache/callKey.js';
import type { CallChunkInput, CallChunkResult, CallRecord, StepOutcome } from '../core/pipeline.js';
import { joinCallTexts, stepCallKey, stepRequest, type StepRequest } from './stepRequests.js';

/**
 * The chunk's instances the call cache answers whole: every call of the instance's step has a
 * stored answer (same endpoint, model, profile, template, messages and sampling) and the current
 * parser reads it. Each becomes an outcome of `cached` calls (no request, no tokens, cost 0)
 * carrying the original call's provenance; an instance missing one answer is left to the endpoint
 * (all of its calls are asked, as without a cache).
 */
export async function answerFromCache(sql: Sql, input: CallChunkInput): Promise<CallChunkResult> {
  const asks: Array<{ idx: number; asked: StepRequest; keys: string[] }> = [];
  for (const item of input.items) {
    const asked = stepRequest(input.step, item, input.settings, input.shuffleSeed);
    if ('cannot' in asked || !asked.calls.every((c) => cacheUse(input.cache, c.request.temperature).read)) continue;
    asks.push({ idx: item.idx, asked, keys: asked.calls.map((_, i) => stepCallKey(input, asked, i)) });
  }
  const stored = asks.length > 0 ? await lookupCachedAnswers(sql, asks.flatMap((a) => a.keys)) : new Map<string, CachedAnswer>();
  const results: StepOutcome[] = [];
  let cached = 0;
  const now = new Date().toISOString();
  for (const { idx, asked, keys } of asks) {
    const hits = keys.map((k) => stored.get(k));
    if (!hits.every((h): h is CachedAnswer => h !== undefined)) continue;
    const parsed = hits.map((h, i) => asked.calls[i]!.parse(h.text));
    // The parser changed since the answer was stored and no longer reads it: ask the endpoint.
    if (!parsed.every((p) => p.ok)) continue;
    const values = parsed.map((p) => (p as { value: unknown }).value);
    const last = hits[hits.length - 1]!;
    const calls: CallRecord[] = hits.map((h, i) => ({
      callNo: i + 1, outcome: 'cached', promptTokens: 0, completionTokens: 0, latencyMs: 0, resent: false, startedAt: now, cacheKey: h.key, cachedFrom: h.runId,
    }));
    cached += calls.length;
    results.push({
      idx, status: 'done', text: joinCallTexts(asked, hits.map((h) => h.text)), value: asked.combine(values), attempts: hits.length,
      promptTokens: 0, completionTokens: 0, simulated: hits.some((h) => h.simulated), startedAt: now, finishedAt: now, calls,
      ...(last.finishReason ? { finishReason: last.finishReason } : {}), ...(last.servedModel ? { servedModel: last.servedModel } : {}),
      ...(asked.numbering ? { numbering: asked.numbering } : {}), ...(asked.template ? { template: asked.template } : {}),
      ...(asked.samples ? { samples: asked.samples(values) } : {}),
    });
  }
  return { results, stats: { calls: 0, cached, rateLimited: 0, errors: 0, tokens: 0, lost: 0 } };
}
