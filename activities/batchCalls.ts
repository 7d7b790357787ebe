/**
 * Batch mode (`--batch`): a chunk's requests through OpenAI's Files + Batch API instead of one
 * HTTP call each. Three small activities on the endpoint's queue — submit, poll, collect — and
 * the workflow sleeps on durable timers between polls, so a worker (or the whole machine) may
 * die while a batch runs for hours: the batch id is in the workflow's history once submitted.
 *
 * Submitting is idempotent without that history too: each batch carries the workflow's key in
 * its metadata, and submit first lists the endpoint's batches for one with that key (a retried
 * submit whose first attempt created the batch but died before answering finds it).
 */
import { ApplicationFailure } from '@temporalio/activity';
import { toFile } from 'openai';
import type { EndpointRef } from '../core/provider/endpoint.js';
import type { BatchApi, ChatProvider } from '../core/provider/provider.js';
import type { CacheEntry, CallRecord } from '../core/pipeline.js';
import type { BatchActivities, BatchChunkInput, BatchCollected } from '../core/activityContracts.js';
import { joinCallTexts, stepCallKey, stepRequest } from './stepRequests.js';
import { cacheUse } from '../core/cache/callKey.js';
import { chatBody } from '../core/provider/openaiProvider.js';

/** A Batch API output line's body: a chat completion, or an error. */
type BatchLineBody = { error?: { message?: string }; choices?: Array<{ message?: { content?: string | null }; finish_reason?: string }>; usage?: { prompt_tokens?: number; completion_tokens?: number }; model?: string };

const KEY_FIELD = 'flask_eval_key';

/** The endpoint's Files + Batch API; a provider without one cannot run batch mode. */
function batchClient(provider: ChatProvider): BatchApi {
  if (!provider.batchApi) {
    throw ApplicationFailure.nonRetryable('this endpoint\'s provider has no Files / Batch API: run without --batch', 'BatchUnsupported');
  }
  return provider.batchApi;
}

const customId = (idx: number, call: number) => `${idx}.${call}`;

export function createBatchActivities(deps: { endpoint: EndpointRef; provider: ChatProvider }): BatchActivities {
  const check = (endpoint: EndpointRef) => {
    if (endpoint.id !== deps.endpoint.id) {
      throw ApplicationFailure.nonRetryable(`this worker serves ${deps.endpoint.model} at ${deps.endpoint.baseUrl}, not ${endpoint.model} at ${endpoint.baseUrl}`, 'EndpointMismatch');
    }
  };
  async function submit(input: BatchChunkInput): Promise<{ batchId: string; lines: number; reused: boolean }> {
    const client = batchClient(deps.provider);
    // Already submitted (a retried activity, a restarted workflow)? Then that batch it is. Batches
    // are listed newest first and a retry comes minutes after: the latest 500 are enough.
    let seen = 0;
    for await (const b of client.batches.list({ limit: 100 })) {
      if (b.metadata?.[KEY_FIELD] === input.key && !['failed', 'cancelled', 'cancelling'].includes(b.status)) {
        return { batchId: b.id, lines: b.request_counts?.total ?? 0, reused: true };
      }
      if (++seen >= 500) break;
    }
    const lines: string[] = [];
    for (const item of input.items) {
      const asked = stepRequest(input.step, item, input.settings, input.shuffleSeed, input.prompts);
      if ('cannot' in asked) continue; // fails without a call in the direct fallback
      asked.calls.forEach((c, k) => lines.push(JSON.stringify({
        custom_id: customId(item.idx, k), method: 'POST', url: '/v1/chat/completions',
        body: chatBody(input.endpoint.model, c.request),
      })));
    }
    const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), `${input.runId}-${input.step}.jsonl`), purpose: 'batch' });
    const batch = await client.batches.create({
      input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { [KEY_FIELD]: input.key, run: input.runId },
    });
    return { batchId: batch.id, lines: lines.length, reused: false };
  }

  return {
    async submitBatch(input) {
      check(input.endpoint);
      try {
        return await submit(input);
      } catch (e) {
        // An endpoint without the Files / Batch API (vLLM, Ollama: 404) or refusing it (400/401/403)
        // will not change its mind on a retry: the workflow asks the chunk directly instead.
        const status = (e as { status?: number }).status;
        if (status !== undefined && [400, 401, 403, 404, 405].includes(status)) {
          throw ApplicationFailure.nonRetryable(`${input.endpoint.baseUrl} refused the Batch API (${status}): ${(e as Error).message}`, 'BatchUnsupported');
        }
        throw e;
      }
    },

    async pollBatch({ endpoint, batchId }) {
      check(endpoint);
      const b = await batchClient(deps.provider).batches.retrieve(batchId);
      return { batchId, status: b.status, total: b.request_counts?.total ?? 0, completed: b.request_counts?.completed ?? 0, failed: b.request_counts?.failed ?? 0 };
    },

    async collectBatch(input) {
      check(input.endpoint);
      const client = batchClient(deps.provider);
      const b = await client.batches.retrieve(input.batchId);
      const byId = new Map<string, { status: number; body?: BatchLineBody; error?: string }>();
      for (const fileId of [b.output_file_id, b.error_file_id]) {
        if (!fileId) continue;
        const text = await (await client.files.content(fileId)).text();
        for (const raw of text.split('\n')) {
          if (!raw.trim()) continue;
          const l = JSON.parse(raw) as { custom_id: string; response?: { status_code: number; body?: BatchLineBody } | null; error?: { code?: string; message?: string } | null };
          byId.set(l.custom_id, l.response
            ? { status: l.response.status_code, body: l.response.body, ...(l.response.status_code !== 200 ? { error: l.response.body?.error?.message ?? `HTTP ${l.response.status_code}` } : {}) }
            : { status: 0, error: l.error?.code ?? 'no response' });
        }
      }
      const at = new Date((b.created_at ?? Date.now() / 1000) * 1000).toISOString();
      const out: BatchCollected = { results: [], fallback: [], linesOk: 0, linesFailed: 0 };
      for (const item of input.items) {
        const asked = stepRequest(input.step, item, input.settings, input.shuffleSeed, input.prompts);
        if ('cannot' in asked) {
          out.fallback.push({ idx: item.idx, calls: [], reason: asked.cannot });
          continue;
        }
        const calls: CallRecord[] = [];
        const values: unknown[] = [];
        const texts: string[] = [];
        const cacheEntries: CacheEntry[] = [];
        let reason: string | undefined;
        let promptTokens = 0, completionTokens = 0, servedModel: string | undefined, finishReason: string | undefined;
        asked.calls.forEach((c, k) => {
          const line = byId.get(customId(item.idx, k));
          const usage = line?.body?.usage ?? {};
          const record: CallRecord = {
            callNo: k + 1, outcome: line?.status === 200 ? 'ok' : line?.error === 'batch_expired' ? 'timeout' : 'server_error',
            ...(line?.status ? { httpStatus: line.status } : {}), promptTokens: usage.prompt_tokens ?? 0, completionTokens: usage.completion_tokens ?? 0,
            latencyMs: 0, resent: false, startedAt: at, batch: true,
          };
          calls.push(record);
          if (record.outcome === 'ok') out.linesOk++;
          else out.linesFailed++;
          if (reason) return;
          if (!line || line.status !== 200) {
            reason = `batch line ${customId(item.idx, k)}: ${line?.error ?? 'missing from the batch output'}`;
            return;
          }
          promptTokens += record.promptTokens;
          completionTokens += record.completionTokens;
          const text = String(line.body?.choices?.[0]?.message?.content ?? '');
          servedModel = line.body?.model;
          finishReason = line.body?.choices?.[0]?.finish_reason;
          const parsed = c.parse(text);
          if (!parsed.ok) reason = `batch line ${customId(item.idx, k)} unparseable: ${parsed.reason}`;
          else {
            values.push(parsed.value);
            texts.push(text);
            // The call cache keeps batch answers as it keeps direct ones (the key does not depend on how it was asked).
            if (cacheUse(input.cache, c.request.temperature).write) {
              cacheEntries.push({
                key: stepCallKey(input, asked, k), text, ...(finishReason ? { finishReason } : {}), promptTokens: record.promptTokens,
                completionTokens: record.completionTokens, ...(servedModel ? { servedModel } : {}), simulated: false,
              });
            }
          }
        });
        if (reason) {
          out.fallback.push({ idx: item.idx, calls, reason });
          continue;
        }
        out.results.push({
          idx: item.idx, status: 'done', value: asked.combine(values), numbering: asked.numbering, template: asked.template,
          ...(asked.samples ? { samples: asked.samples(values) } : {}),
          text: joinCallTexts(asked, texts),
          finishReason, attempts: asked.calls.length, promptTokens, completionTokens, servedModel,
          // A batch line carries no response headers: the endpoint's x-flask-simulated is not seen
          // here (the run itself records simulated from the preflight).
          simulated: false,
          startedAt: at, finishedAt: new Date().toISOString(), calls, ...(cacheEntries.length > 0 ? { cacheEntries } : {}),
        });
      }
      return out;
    },
  };
}
