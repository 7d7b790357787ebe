/**
 * The "ideal client" the project is measured against: the openai SDK (maxRetries 0), N requests
 * in flight, FLASK's review prompt (core/prompts/review.ts), each result parsed and appended to
 * DuckDB over ONE long-lived connection. No durability, no resume: the floor of what any
 * implementation pays. 429: wait the Retry-After; 5xx / parse failure: ask again (at most 12 calls).
 */
import OpenAI from 'openai';
import { DuckDBInstance } from '@duckdb/node-api';
import { renderReviewPrompt, loadReviewPromptKit } from '../core/prompts/review.js';
import { parseSkillScores } from '../core/scoring/parseSkillScores.js';
import { prepareReview } from '../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../core/paths.js';
import { headerRecord, type EndpointLimiter } from '../core/rate/index.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** `limiter`: put core/rate's limiter in front of every call (bench --limiter-baseline), instead of `rpm` pacing. */
export interface BaselineOptions { url: string; model: string; reviews: number; concurrency: number; rpm?: number; dbFile: string; limiter?: EndpointLimiter }
export interface BaselineResult { wallMs: number; scored: number; failed: number; calls: number }

export async function runBaseline(o: BaselineOptions): Promise<BaselineResult> {
  const kit = loadReviewPromptKit();
  const { instances, responses } = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4');
  const text = new Map(responses.map((r) => [r.idx, r.text]));
  const client = new OpenAI({ apiKey: 'x', baseURL: o.url, maxRetries: 0 });
  const db = await DuckDBInstance.create(o.dbFile);
  const conn = await db.connect();
  await conn.run('CREATE TABLE IF NOT EXISTS reviews (n INTEGER, idx INTEGER, status VARCHAR, raw_text VARCHAR, scores VARCHAR, calls INTEGER)');
  const appender = await conn.createAppender('reviews');
  let next = 0, nextStart = 0, scored = 0, failed = 0, calls = 0;
  const t0 = Date.now();
  const one = async (n: number): Promise<void> => {
    const inst = instances[n % instances.length];
    const messages = renderReviewPrompt(inst!, text.get(inst!.idx) ?? '', kit);
    let raw = '', result: ReturnType<typeof parseSkillScores> | undefined, tries = 0;
    while (tries < 12 && !result?.ok) {
      if (o.rpm) { const wait = nextStart - Date.now(); nextStart = Math.max(Date.now(), nextStart) + 60_000 / o.rpm; if (wait > 0) await sleep(wait); }
      calls++;
      const permit = await o.limiter?.acquire(Math.ceil(messages.reduce((n, m) => n + m.content.length, 0) / 4) + kit.maxTokens);
      const t = Date.now();
      try {
        const { data: c, response } = await client.chat.completions.create({ model: o.model, messages, temperature: kit.temperature, max_tokens: kit.maxTokens }).withResponse();
        permit?.release({ outcome: 'ok', latencyMs: Date.now() - t, promptTokens: c.usage?.prompt_tokens, completionTokens: c.usage?.completion_tokens, headers: headerRecord(response.headers) });
        tries++;
        raw = c.choices[0]?.message.content ?? '';
        result = parseSkillScores(raw, inst!.skills);
      } catch (e) {
        const limited = e instanceof OpenAI.APIError && e.status === 429;
        const retryAfterMs = limited ? Number(e.headers?.get('retry-after') ?? 1) * 1000 : undefined;
        permit?.release({ outcome: limited ? 'rate_limited' : 'error', latencyMs: Date.now() - t, retryAfterMs, headers: headerRecord((e as { headers?: Headers }).headers) });
        if (limited && !permit) await sleep(retryAfterMs!);
        else if (!limited) tries++;
      }
    }
    if (result?.ok) scored++; else failed++;
    appender.appendInteger(n); appender.appendInteger(inst!.idx); appender.appendVarchar(result?.ok ? 'scored' : 'failed');
    appender.appendVarchar(raw); appender.appendVarchar(JSON.stringify(result?.ok ? result.scores : null)); appender.appendInteger(tries);
    appender.endRow();
  };
  await Promise.all(Array.from({ length: o.concurrency }, async () => { while (next < o.reviews) await one(next++); }));
  appender.closeSync();
  const wallMs = Date.now() - t0;
  conn.closeSync();
  db.closeSync();
  return { wallMs, scored, failed, calls };
}
